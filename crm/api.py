from drf_spectacular.utils import extend_schema_view
from rest_framework import exceptions, mixins, viewsets

from beils.lib.api import AtomicWritesMixin, BulkCreateMixin, SoftDeleteMixin, bulk_create_schema, soft_delete_schema
from crm.models import Client, Consent, Questionnaire, Revoke, User
from crm.serializers import (
    ClientSerializer,
    ConsentSerializer,
    QuestionnaireSerializer,
    RevokeSerializer,
    UserSerializer,
)
from crm.services import user_role_audit
from maintenance.api import StreamingExportMixin


@soft_delete_schema
@extend_schema_view(create=bulk_create_schema(UserSerializer))
class UserViewSet(StreamingExportMixin, BulkCreateMixin, SoftDeleteMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    """Staff accounts. Only ADMIN may create or change them; DELETE deactivates (no login)."""

    queryset = User.all_objects.order_by("name", "surname", "pk")
    serializer_class = UserSerializer
    filterset_fields = ["role", "status"]
    search_fields = ["email", "name", "surname", "phone"]
    ordering_fields = ["name", "surname", "email", "role", "created_at", "last_login"]

    def perform_update(self, serializer):
        previous = serializer.instance.role
        super().perform_update(serializer)
        user_role_audit(
            user=serializer.instance, previous_role=previous, actor=self.request.user,
            ip_address=self.request.META.get("REMOTE_ADDR"),
        )  # fmt: skip

    def perform_destroy(self, instance):
        if instance.pk == self.request.user.pk:
            raise exceptions.ValidationError({"detail": "You cannot deactivate or delete your own account."})
        super().perform_destroy(instance)


@soft_delete_schema
@extend_schema_view(create=bulk_create_schema(ClientSerializer))
class ClientViewSet(StreamingExportMixin, BulkCreateMixin, SoftDeleteMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    """Clients. Document numbers are masked in lists. DELETE deactivates; ``?hard=1`` deletes a
    client without history and answers 409 for one with sales, bookings or debts."""

    queryset = Client.all_objects.order_by("name", "surname", "pk")
    serializer_class = ClientSerializer
    filterset_fields = ["status", "gender", "document_type", "country", "city"]
    search_fields = ["name", "surname", "email", "phone", "=document_number"]
    ordering_fields = ["name", "surname", "email", "created_at", "birth_date"]


class ConsentViewSet(StreamingExportMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Consent.objects.select_related("client").order_by("client__name", "kind", "pk")
    serializer_class = ConsentSerializer
    filterset_fields = ["client", "kind", "status"]
    search_fields = ["client__name", "client__surname", "client__email"]
    ordering_fields = ["kind", "status", "signed_at", "created_at"]


class RevokeViewSet(
    StreamingExportMixin,
    AtomicWritesMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Revocations are a record: created (revoking the consent), never edited."""

    queryset = Revoke.objects.select_related("client", "consent").order_by("-revoked_at", "-pk")
    serializer_class = RevokeSerializer
    filterset_fields = ["client", "consent"]
    search_fields = ["reason", "client__name", "client__surname"]
    ordering_fields = ["revoked_at", "created_at"]


class QuestionnaireViewSet(StreamingExportMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Questionnaire.objects.select_related("client").order_by("-created_at", "-pk")
    serializer_class = QuestionnaireSerializer
    filterset_fields = ["client"]
    search_fields = ["title", "client__name", "client__surname"]
    ordering_fields = ["title", "created_at"]
