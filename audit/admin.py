from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audit.actions import ACTIONS, action_label
from audit.models import AuditEntry
from beils.lib.admin import ReadOnlyAdmin
from beils.lib.changelists import BigListMixin


class ActionFilter(admin.SimpleListFilter):
    """The actions the trail holds, by their words (the code stays in the URL: ``?action=``)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        # One query, read off the (action, created_at) index, as Django's own field filter does.
        codes = AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()
        return sorted(((code, action_label(code)) for code in codes), key=lambda lookup: lookup[1].casefold())

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(BigListMixin, ReadOnlyAdmin):
    """The audit trail: append-only, so nobody adds, edits or deletes entries here."""

    list_display = ["created_at", "actor_label", "action_display", "target_label", "outcome", "ip_address"]
    list_filter = ["outcome", ActionFilter]
    search_fields = ["action", "actor_label", "target_label", "=target_id"]
    date_hierarchy = "created_at"
    fields = [
        "created_at", "actor", "actor_label", "action_display", "target_type", "target_id", "target_label", "outcome",
        "detail", "ip_address", "prev_hash", "hash",
    ]  # fmt: skip
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        """Searching for words of an action ("backup", "copia") finds its entries too, though
        only the code is stored."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().casefold()
        codes = [code for code, label in ACTIONS.items() if term and term in str(label).casefold()]
        if codes:
            found |= queryset.filter(action__in=codes)  # the page's other filters still apply
        return found, may_have_duplicates

    @admin.display(description=_("action"), ordering="action")
    def action_display(self, obj):
        """The action in words, its code under them in small type (and as the tooltip)."""
        return format_html(
            '<span title="{}">{}</span><br><small class="quiet"><code>{}</code></small>',
            obj.action,
            action_label(obj.action),
            obj.action,
        )
