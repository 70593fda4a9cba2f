"""The backup catalogue and the restore drills in the admin, with the maintenance dashboard's pages
(served from the catalogue's URLs)."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_celery_beat.models import PeriodicTask

from audit.models import Outcome
from audit.services import audit_log
from backups.models import Backup, BackupKind, BackupStatus, RestoreDrill
from beils.lib.admin import ReadOnlyAdmin
from beils.lib.net import client_ip
from crm.models import Role
from maintenance.models import Operation, OperationKind
from maintenance.operations import OperationError, operation_start


@admin.register(Backup)
class BackupAdmin(ReadOnlyAdmin):
    """The backup catalogue. Rows are written by the backup engine only."""

    list_display = [
        "started_at",
        "kind",
        "host",
        "status_badge",
        "size",
        "took",
        "verified_badge",
        "restore_tested_at",
        "download",
    ]
    list_filter = ["status", "kind", "verify_ok", "engine"]
    search_fields = ["file_name", "sha256"]
    date_hierarchy = "started_at"
    actions = ["verify_selected", "restore_test_selected", "copy_offsite_selected"]
    change_list_template = "admin/backups/backup/change_list.html"
    readonly_fields = [f.name for f in Backup._meta.fields]

    def has_run_permission(self, request):
        return request.user.has_perm("backups.run_backup")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="maintenance_dashboard"),
            path("dashboard/start/", view(self.start_view), name="maintenance_dashboard_start"),
            path("dashboard/operations/<int:pk>/", view(self.operation_view), name="maintenance_operation_progress"),
            path("run/", self.admin_site.admin_view(self.run_view), name="backups_backup_run"),
            path("<int:pk>/download/", self.admin_site.admin_view(self.download_view), name="backups_backup_download"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        from backups.services import rpo_breached

        latest = Backup.objects.latest_good()
        if rpo_breached(latest=latest):
            if latest:
                hours = round((timezone.now() - latest.started_at).total_seconds() / 3600)
                message = ngettext(
                    "The last good backup is %(hours)s hour old: older than the recovery point objective "
                    "(%(rpo)s h). Back up now and check the nightly job.",
                    "The last good backup is %(hours)s hours old: older than the recovery point objective "
                    "(%(rpo)s h). Back up now and check the nightly job.",
                    hours,
                ) % {"hours": hours, "rpo": settings.BACKUP_RPO_HOURS}
            else:
                message = _(
                    "There is no good backup: the recovery point objective (%(rpo)s h) is not met. "
                    "Back up now and check the nightly job."
                ) % {"rpo": settings.BACKUP_RPO_HOURS}
            self.message_user(request, message, messages.WARNING)
        extra_context = {**(extra_context or {}), "can_run_backup": self.has_run_permission(request)}
        return super().changelist_view(request, extra_context)

    def run_view(self, request):
        from backups.tasks import run_backup

        if request.method != "POST" or not self.has_run_permission(request):
            raise PermissionDenied
        user_id = request.user.pk
        transaction.on_commit(lambda: run_backup.delay(user_id, BackupKind.MANUAL))
        audit_log(action="maintenance.backup.requested", actor=request.user, ip_address=client_ip(request))
        self.message_user(
            request, _("Backup queued: it appears here as Running, then Good, in a moment."), messages.SUCCESS
        )
        return redirect("admin:backups_backup_changelist")

    # --- The maintenance dashboard (one page for the whole of data maintenance) ---------------

    def may_start(self, request, kind: str) -> bool:
        user = request.user
        if kind in (OperationKind.BACKUP, OperationKind.RESTORE_DRILL):
            return user.has_perm("backups.run_backup")
        if kind in (OperationKind.ARCHIVE, OperationKind.ARCHIVE_DRY_RUN):
            return user.is_superuser or getattr(user, "role", None) in (Role.ADMIN, Role.MANAGER)
        return user.has_perm("maintenance.optimise_database")

    def dashboard_view(self, request):
        from backups.locks import maintenance_busy
        from maintenance.dashboard import dashboard_data

        if not self.has_view_permission(request):
            raise PermissionDenied
        data = dashboard_data()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Maintenance dashboard"),
            "d": data,
            "charts": {
                "timeline": data["timeline"],
                "tables": {
                    "labels": [t["name"] for t in data["tables"]],
                    "data_mb": [round(t["data"] / 2**20, 3) for t in data["tables"]],
                    "index_mb": [round(t["index"] / 2**20, 3) for t in data["tables"]],
                },
                "disks": [{"label": d["label"], "used": d["used_percent"], "low": d["low"]} for d in data["disks"]],
            },
            "can": {kind: self.may_start(request, kind) for kind in OperationKind.values},
            "busy": maintenance_busy(),
        }
        return TemplateResponse(request, "admin/maintenance/dashboard.html", context)

    def start_view(self, request):
        from backups.locks import BUSY, maintenance_busy

        kind = request.POST.get("kind", "")
        if request.method != "POST" or kind not in OperationKind.values or not self.may_start(request, kind):
            raise PermissionDenied
        params = {"tables": request.POST.getlist("tables")} if kind == OperationKind.OPTIMISE else {}
        if kind == OperationKind.OPTIMISE and maintenance_busy():
            audit_log(action="maintenance.optimise.refused", actor=request.user, outcome=Outcome.FAILURE,
                      ip_address=client_ip(request), detail={**params, "reason": str(BUSY)})  # fmt: skip
            self.message_user(request, _("Not optimised: %(reason)s") % {"reason": BUSY}, messages.ERROR)
            return redirect("admin:maintenance_dashboard")
        try:
            operation = operation_start(kind=kind, actor=request.user, params=params, ip_address=client_ip(request))
        except OperationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request,
                _("%(operation)s queued: its progress shows below.") % {"operation": operation.get_kind_display()},
                messages.SUCCESS,
            )
        return redirect("admin:maintenance_dashboard")

    def operation_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return JsonResponse(get_object_or_404(Operation, pk=pk).progress())

    def download_view(self, request, pk):
        from backups.services import backup_path

        if not request.user.has_perm("backups.download_backup"):
            raise PermissionDenied
        backup = get_object_or_404(Backup, pk=pk, status=BackupStatus.SUCCESS)
        path = backup_path(backup)
        if not path.exists():
            raise Http404(_("The backup file is no longer on this server."))
        audit_log(
            action="maintenance.backup.downloaded", actor=request.user, target=backup, ip_address=client_ip(request),
            detail={"file": backup.file_name},
        )  # fmt: skip
        return FileResponse(open(path, "rb"), as_attachment=True, filename=backup.file_name)  # noqa: SIM115

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, obj):
        colours = {BackupStatus.SUCCESS: "#15803d", BackupStatus.FAILED: "#b91c1c", BackupStatus.RUNNING: "#2563eb"}
        return format_html(
            '<strong style="color:{}" title="{}">{}</strong>', colours.get(obj.status, "#6b7280"), obj.error or "",
            obj.get_status_display(),
        )  # fmt: skip

    @admin.display(description=gettext_lazy("size"), ordering="size_bytes")
    def size(self, obj):
        return filesizeformat(obj.size_bytes) if obj.size_bytes is not None else "—"

    @admin.display(description=gettext_lazy("took"))
    def took(self, obj):
        return f"{number_format(obj.duration.total_seconds(), 1)} s" if obj.duration else "—"

    @admin.display(description=gettext_lazy("verified"), ordering="verified_at")
    def verified_badge(self, obj):
        if obj.verify_ok is None:
            return "—"
        label, colour = (_("✔ verified"), "#15803d") if obj.verify_ok else (_("✘ failed"), "#b91c1c")
        when = date_format(timezone.localtime(obj.verified_at), "SHORT_DATETIME_FORMAT") if obj.verified_at else ""
        return format_html('<span style="color:{}" title="{}">{}</span>', colour, when, label)

    @admin.display(description=gettext_lazy("file"))
    def download(self, obj):
        if obj.status != BackupStatus.SUCCESS:
            return obj.file_name
        url = reverse("admin:backups_backup_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.file_name)

    @admin.action(description=gettext_lazy("Verify selected backups (checksums and contents)"), permissions=["run"])
    def verify_selected(self, request, queryset):
        self._queue_verification(request, queryset, restore_test=False)

    @admin.action(
        description=gettext_lazy("Restore-test selected backups (into a scratch database)"), permissions=["run"]
    )
    def restore_test_selected(self, request, queryset):
        self._queue_verification(request, queryset, restore_test=True)

    @admin.action(
        description=gettext_lazy("Copy selected backups off-site (second directory, S3)"), permissions=["run"]
    )
    def copy_offsite_selected(self, request, queryset):
        from backups.offsite import offsite_configured
        from backups.tasks import copy_backup_offsite

        if not offsite_configured():
            self.message_user(
                request, _("No off-site target is configured (BACKUP_COPY_DIR, BACKUP_S3_BUCKET)."), messages.ERROR
            )
            return
        ids, user_id = list(queryset.filter(status=BackupStatus.SUCCESS).values_list("pk", flat=True)), request.user.pk
        for backup_id in ids:
            transaction.on_commit(lambda b=backup_id: copy_backup_offsite.delay(b, user_id))
        message = ngettext("%(count)s off-site copy queued.", "%(count)s off-site copies queued.", len(ids))
        self.message_user(request, message % {"count": len(ids)}, messages.SUCCESS)

    def _queue_verification(self, request, queryset, *, restore_test: bool):
        from backups.tasks import verify_backup

        ids, user_id = list(queryset.filter(status=BackupStatus.SUCCESS).values_list("pk", flat=True)), request.user.pk
        for backup_id in ids:
            transaction.on_commit(lambda b=backup_id: verify_backup.delay(b, restore_test, user_id))
        message = ngettext("%(count)s verification queued.", "%(count)s verifications queued.", len(ids))
        self.message_user(request, message % {"count": len(ids)}, messages.SUCCESS)


@admin.register(RestoreDrill)
class RestoreDrillAdmin(ReadOnlyAdmin):
    """Every restore drill: the backup it restored, whether it came back intact, and how long
    recovery took against the recovery time objective."""

    list_display = ["started_at", "backup_file", "outcome", "recovery_time", "rto", "tables", "rows", "invoices"]
    list_filter = ["outcome"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in RestoreDrill._meta.fields]

    @admin.display(description=gettext_lazy("recovery time"), ordering="seconds")
    def recovery_time(self, obj):
        return f"{number_format(obj.seconds, 1)} s" if obj.seconds is not None else "—"

    @admin.display(description=gettext_lazy("RTO"))
    def rto(self, obj):
        if obj.meets_rto is None:
            return "—"
        label, colour = (_("✔ within"), "#15803d") if obj.meets_rto else (_("✘ over"), "#b91c1c")
        return format_html('<span style="color:{}">{} {} h</span>', colour, label, obj.rto_hours)


# django-celery-beat registers its own PeriodicTaskAdmin whose actions only ask for the view
# permission, so a MANAGER (view only on schedules) could switch off the nightly backup or fire
# any job. Re-register it with every action behind the change permission, and audited.
admin.site.unregister(PeriodicTask)
