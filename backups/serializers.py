from rest_framework import serializers

from backups.models import Backup


class BackupSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.SerializerMethodField()
    rows = serializers.IntegerField(source="row_count", read_only=True)

    class Meta:
        model = Backup
        fields = [
            "id", "file_name", "kind", "status", "engine", "server_version", "started_at", "finished_at",
            "duration_seconds", "size_bytes", "sha256", "encrypted", "tables_requested", "rows", "verified_at",
            "verify_ok", "restore_tested_at", "error", "storage", "host",
        ]  # fmt: skip
        read_only_fields = fields

    def get_duration_seconds(self, obj) -> float | None:
        return obj.duration.total_seconds() if obj.duration else None


class BackupRequestSerializer(serializers.Serializer):
    tables = serializers.ListField(child=serializers.CharField(), required=False, default=list)
