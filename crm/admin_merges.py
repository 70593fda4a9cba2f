"""The admin's "Client merges": every merge, who did it and when, and ADMIN's "Undo this merge"
(a preview of what goes back and what cannot, then a confirming POST to ``crm.unmerge``)."""

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from beils.lib.admin import ReadOnlyAdmin
from crm.models import Client, ClientMergeRecord, CrmError
from crm.unmerge import UNDO_PERMISSION, client_merge_undo, client_merge_undo_preview


def _client_link(client_id: int, name: str | None = None):
    url = reverse("admin:crm_client_change", args=[client_id])
    return format_html('<a href="{}">{}</a>', url, name or f"#{client_id}")


class MergeStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("Can still be undone")), ("undone", _("Undone")), ("closed", _("Too late or erased"))]

    def queryset(self, request, queryset):
        cutoff = timezone.now() - timedelta(days=settings.MERGE_UNDO_DAYS)
        standing = queryset.filter(undone_at=None)
        if self.value() == "open":
            return standing.filter(forgotten_at=None, merged_at__gte=cutoff)
        if self.value() == "undone":
            return queryset.exclude(undone_at=None)
        if self.value() == "closed":
            return standing.filter(Q(forgotten_at__isnull=False) | Q(merged_at__lt=cutoff))
        return queryset


@admin.register(ClientMergeRecord)
class ClientMergeRecordAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "survivor", "merged", "rows", "merged_at", "actor", "state"]
    list_select_related = ["actor", "undone_by"]
    list_filter = [MergeStateFilter]
    date_hierarchy = "merged_at"
    show_full_result_count = False
    change_form_template = "admin/crm/clientmergerecord/change_form.html"
    fields = ["survivor", "merged", "merged_at", "actor", "moved_rows", "state", "undone_at", "undone_by"]
    readonly_fields = fields

    def get_queryset(self, request):
        names = Client.all_objects.filter(pk=OuterRef("survivor_id"))
        return super().get_queryset(request).annotate(survivor_name=Subquery(names.values("name")[:1]))

    def get_urls(self):
        undo = path("<path:object_id>/undo/", self.admin_site.admin_view(self.undo_view), name="crm_clientmerge_undo")
        return [undo, *super().get_urls()]

    def has_undo_permission(self, request) -> bool:
        """Undoing rewrites a person's history again: ADMIN only (``crm.undo_clientmergerecord``)."""
        return request.user.is_active and request.user.has_perm(UNDO_PERMISSION)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_undo": self.has_undo_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- columns ---

    @admin.display(description=_("client kept"), ordering="survivor_id")
    def survivor(self, obj):
        return _client_link(obj.survivor_id, getattr(obj, "survivor_name", None))

    @admin.display(description=_("clients merged"))
    def merged(self, obj):
        return format_html_join(", ", "{}", ((_client_link(pk),) for pk in obj.merged_ids))

    @admin.display(description=_("rows moved"))
    def rows(self, obj):
        return obj.row_count

    @admin.display(description=_("rows moved"))
    def moved_rows(self, obj):
        items = ((_verbose_name_plural(label), len(pairs)) for label, pairs in obj.moved.items())
        return format_html_join(", ", "{}: {}", items) or "—"

    @admin.display(description=_("state"))
    def state(self, obj):
        if obj.undone_at:
            return gettext("Undone on %(date)s") % {"date": _date(obj.undone_at)}
        if timezone.now() > obj.undo_deadline:
            return gettext("Too late to undo (since %(date)s)") % {"date": _date(obj.undo_deadline)}
        if obj.forgotten_at:
            return gettext("Cannot be undone: a client's data was erased")
        return gettext("Can be undone until %(date)s") % {"date": _date(obj.undo_deadline)}

    # --- the undo page ---

    def undo_view(self, request, object_id):
        if not self.has_undo_permission(request):
            raise PermissionDenied
        merge = self.get_object(request, object_id)
        if merge is None:
            raise Http404(gettext("No such merge."))
        change_url = reverse("admin:crm_clientmergerecord_change", args=[merge.pk])
        try:
            if request.method == "POST" and request.POST.get("confirm") == "yes":
                result = client_merge_undo(merge=merge, actor=request.user)
                self._report(request, result)
                return redirect(change_url)
            preview = client_merge_undo_preview(merge=merge)
        except CrmError as error:
            self.message_user(request, str(error), messages.ERROR)
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Undo merge #%(id)s") % {"id": merge.pk},
            "merge": merge,
            "preview": preview,
            "moves": [(_verbose_name_plural(label), count) for label, count in preview.moved_back.items()],
            "fields_cleared": [str(Client._meta.get_field(name).verbose_name) for name in preview.fields_cleared],
            "notes": preview.notes(),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/crm/clientmergerecord/undo_confirmation.html", context)

    def _report(self, request, result) -> None:
        rows = sum(result.moved_back.values())
        text = ngettext(
            "Merge #%(id)s undone: %(rows)d record moved back to its client.",
            "Merge #%(id)s undone: %(rows)d records moved back to their clients.",
            rows,
        ) % {"id": result.merge_id, "rows": rows}
        self.message_user(request, text, messages.SUCCESS)
        for line in result.notes():
            self.message_user(request, line, messages.WARNING)


def _date(moment) -> str:
    return date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT")


def _verbose_name_plural(label: str) -> str:
    try:
        return str(apps.get_model(label)._meta.verbose_name_plural)
    except LookupError:
        return label
