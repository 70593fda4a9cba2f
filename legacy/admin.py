from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from beils.lib.admin import ReadOnlyAdmin, money_column
from beils.lib.changelists import BigListMixin
from legacy.models import LegacyError, LegacyImportRun, LegacyInvoice
from legacy.peers.admin import PeersAdminViews


class LegacyImportForm(forms.Form):
    url = forms.CharField(
        label=gettext_lazy("Legacy database"),
        max_length=255,
        help_text=gettext_lazy("mysql://user@host:3306/dbname — the old Beils Dashboard database, read only."),
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "mysql://beils@db.example:3306/beils"}),
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy(
            "Sent to the worker encrypted and never stored. Leave empty to use the worker's LEGACY_DATABASE_PASSWORD."
        ),
    )

    def clean_url(self):
        from legacy.source import source_config

        try:
            source_config(self.cleaned_data["url"])
        except LegacyError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return self.cleaned_data["url"]


@admin.register(LegacyImportRun)
class LegacyImportRunAdmin(PeersAdminViews, ReadOnlyAdmin):
    """Imports from the previous Beils Dashboard: start one, follow its progress, read its
    reconciliation. Only admins (the import writes every kind of record)."""

    list_display = ["created_at", "source", "state", "progress", "actor"]
    list_filter = ["state"]
    list_select_related = ["actor"]
    show_full_result_count = False
    change_list_template = "admin/legacy/legacyimportrun/change_list.html"

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.has_perm("legacy.view_legacyimportrun")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("start/", view(self.start_view), name="legacy_legacyimportrun_start"),
            path("<int:pk>/progress/", view(self.progress_view), name="legacy_legacyimportrun_progress"),
            *self.peers_urls(),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_start": self._can_start(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from legacy.services import legacy_run_progress

        run = self._run(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(run),
            "run": run,
            "original": run,
            "progress": legacy_run_progress(run),
            "report": run.report or {},
        }
        return TemplateResponse(request, "admin/legacy/legacyimportrun/detail.html", context)

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, run: LegacyImportRun):
        return format_html(
            "{} % · {}", run.percent,
            _("%(done)s of %(total)s rows") % {"done": run.rows_done, "total": run.rows_total},
        )  # fmt: skip

    def _can_start(self, request) -> bool:
        return request.user.is_active and request.user.has_perm("legacy.add_legacyimportrun")

    def _run(self, request, pk) -> LegacyImportRun:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(LegacyImportRun, pk=pk)

    def progress_view(self, request, pk):
        from legacy.services import legacy_run_progress

        return JsonResponse(legacy_run_progress(self._run(request, pk)))

    @method_decorator(sensitive_post_parameters("url", "password"))
    def start_view(self, request):
        from legacy.services import legacy_import_queue

        if not self._can_start(request):
            raise PermissionDenied
        form = LegacyImportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = legacy_import_queue(
                    url=form.cleaned_data["url"], password=form.cleaned_data["password"] or None, actor=request.user
                )
            except LegacyError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, _("Import queued: this page follows it."), messages.SUCCESS)
                return redirect("admin:legacy_legacyimportrun_change", run.pk)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "title": _("Import from legacy database")}  # fmt: skip
        return TemplateResponse(request, "admin/legacy/legacyimportrun/start.html", context)


@admin.register(LegacyInvoice)
class LegacyInvoiceAdmin(BigListMixin, ReadOnlyAdmin):
    """The previous system's invoices: a closed series, kept as issued."""

    list_display = ["number", "issued_at", "kind", "total_money", "payment_method", "aeat_status"]
    search_fields = ["=number", "=hash"]
    date_hierarchy = "issued_at"

    total_money = money_column("total", gettext_lazy("total"))
