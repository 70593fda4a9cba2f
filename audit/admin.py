from django.contrib import admin

from audit.models import AuditEntry
from beils.lib.admin import ReadOnlyAdmin
from beils.lib.changelists import BigListMixin


@admin.register(AuditEntry)
class AuditEntryAdmin(BigListMixin, ReadOnlyAdmin):
    """The audit trail: append-only, so nobody adds, edits or deletes entries here."""

    list_display = ["created_at", "actor_label", "action", "target_label", "outcome", "ip_address"]
    list_filter = ["outcome", "action"]
    search_fields = ["action", "actor_label", "target_label", "=target_id"]
    date_hierarchy = "created_at"
