from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.response import Response

from audit.services import audit_log
from backups.models import Backup, BackupKind
from backups.serializers import BackupRequestSerializer, BackupSerializer
from backups.tasks import run_backup
from beils.lib.net import client_ip


class CanRunBackups(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or request.user.has_perm("backups.run_backup")


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
        audit_log(action="maintenance.backup.requested", actor=request.user, ip_address=client_ip(request))
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)
