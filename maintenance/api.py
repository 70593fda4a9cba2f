import json

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, permissions, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from audit.services import audit_log
from maintenance.exports import ExportError, export_stream
from maintenance.models import Backup, BackupKind
from maintenance.serializers import BackupRequestSerializer, BackupSerializer
from maintenance.tasks import run_backup


class CanRunBackups(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or request.user.has_perm("maintenance.run_backup")


class BackupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The backup catalogue; POST starts a backup in the background (202)."""

    queryset = Backup.objects.select_related("created_by").order_by("-started_at")
    serializer_class = BackupSerializer
    filterset_fields = ["status", "kind", "verify_ok"]
    ordering_fields = ["started_at", "size_bytes"]

    def get_permissions(self):
        return [*super().get_permissions(), CanRunBackups()]

    @extend_schema(request=BackupRequestSerializer, responses={202: None})
    def create(self, request):
        payload = BackupRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user_id = request.user.pk
        transaction.on_commit(lambda: run_backup.delay(user_id, BackupKind.MANUAL))
        audit_log(action="maintenance.backup.requested", actor=request.user, ip_address=request.META.get("REMOTE_ADDR"))
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)


class _FileRenderer(renderers.BaseRenderer):
    """Lets ``?format=csv|json`` through DRF's content negotiation; the export streams itself."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


class CSVFileRenderer(_FileRenderer):
    media_type, format = "text/csv", "csv"


class JSONFileRenderer(_FileRenderer):
    media_type, format = "application/json", "json"


class StreamingExportMixin:
    """``GET …/export?format=csv|json``: the whole filtered set, streamed (MANAGER and ADMIN)."""

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["csv", "json"], description="Default csv.")],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/json"): OpenApiTypes.BINARY},
    )
    @action(detail=False, methods=["get"], renderer_classes=[CSVFileRenderer, JSONFileRenderer], pagination_class=None)
    def export(self, request, *args, **kwargs):
        if not request.user.has_perm("audit.export_data"):
            raise exceptions.PermissionDenied("Only managers and admins may export data.")
        queryset = self.filter_queryset(self.get_queryset()).order_by("pk")
        try:
            return export_stream(
                queryset, fmt=request.query_params.get("format", "csv"), actor=request.user,
                ip_address=request.META.get("REMOTE_ADDR"),
            )  # fmt: skip
        except ExportError as exc:
            raise exceptions.ValidationError({"format": [str(exc)]}) from exc
