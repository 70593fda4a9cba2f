from rest_framework import viewsets

from beils.lib.api import AtomicWritesMixin
from bookings.models import Booking
from bookings.serializers import BookingSerializer
from maintenance.api import StreamingExportMixin


class BookingViewSet(StreamingExportMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    """The appointment book, each booking with its services."""

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
