from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from beils.lib.api import AtomicWritesMixin
from bookings.models import Booking, BookingStatus
from bookings.serializers import BookingSerializer
from bookings.services import booking_transition
from maintenance.api import StreamingExportMixin


class BookingViewSet(StreamingExportMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    """The appointment book, each booking with its services. Status changes are the
    ``confirm``, ``complete``, ``cancel`` and ``no-show`` actions (``POST``)."""

    queryset = Booking.objects.select_related("client", "staff").prefetch_related("items").order_by("-start", "-pk")
    serializer_class = BookingSerializer
    filterset_fields = {
        "status": ["exact"],
        "client": ["exact"],
        "staff": ["exact"],
        "start": ["gte", "lt"],
    }
    search_fields = ["client__name", "client__surname", "client__email", "notes"]
    ordering_fields = ["start", "end", "created_at"]

    @extend_schema(request=None, responses=BookingSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        return self._move(BookingStatus.CONFIRMED)

    @extend_schema(request=None, responses=BookingSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._move(BookingStatus.COMPLETED)

    @extend_schema(request=None, responses=BookingSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._move(BookingStatus.CANCELLED)

    @extend_schema(request=None, responses=BookingSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        return self._move(BookingStatus.NO_SHOW)

    def _move(self, status):
        booking = self.get_object()
        booking_transition(booking=booking, status=status, actor=self.request.user)
        return Response(self.get_serializer(booking).data)
