from django.contrib import admin

from maintenance.models import AuditEntry, Heartbeat


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail: append-only, so nobody adds, edits or deletes entries here."""

    list_display = ["created_at", "actor_label", "action", "target_label", "outcome", "ip_address"]
    list_filter = ["outcome", "action"]
    search_fields = ["action", "actor_label", "target_label", "=target_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
