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
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from audit.models import Outcome
from audit.services import audit_log
from beils.lib.admin import ReadOnlyAdmin, SoftDeleteAdmin, client_ip
from beils.lib.models import Status
from crm.models import Role
from maintenance.backups.locks import BUSY, MaintenanceBusy, maintenance_busy
from maintenance.backups.offsite import offsite_configured
from maintenance.backups.services import backup_path, rpo_breached
from maintenance.cleanup import REMOVED, Trash, cleanup_run
from maintenance.dashboard import dashboard_data
from maintenance.models import (
    Alert,
    Backup,
    BackupKind,
    BackupStatus,
    Heartbeat,
    LifecycleRun,
    Operation,
    OperationKind,
    RestoreDrill,
    RetentionPolicy,
)
from maintenance.operations import OperationError, operation_start
from maintenance.tasks import copy_backup_offsite, run_backup, verify_backup


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Backup)
class BackupAdmin(ReadOnlyAdmin):
    """The backup catalogue. Rows are written by the backup engine only."""

    list_display = [
        "started_at",
        "kind",
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
    change_list_template = "admin/maintenance/backup/change_list.html"
    readonly_fields = [f.name for f in Backup._meta.fields]

    def has_run_permission(self, request):
        return request.user.has_perm("maintenance.run_backup")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="maintenance_dashboard"),
            path("dashboard/start/", view(self.start_view), name="maintenance_dashboard_start"),
            path("dashboard/operations/<int:pk>/", view(self.operation_view), name="maintenance_operation_progress"),
            path("run/", self.admin_site.admin_view(self.run_view), name="maintenance_backup_run"),
            path(
                "<int:pk>/download/", self.admin_site.admin_view(self.download_view), name="maintenance_backup_download"
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        latest = Backup.objects.latest_good()
        if rpo_breached(latest=latest):
            age = (
                f"{(timezone.now() - latest.started_at).total_seconds() / 3600:.0f} hours old" if latest else "missing"
            )
            self.message_user(
                request,
                f"The last good backup is {age}: older than the recovery point objective "
                f"({settings.BACKUP_RPO_HOURS} h). Back up now and check the nightly job.",
                messages.WARNING,
            )
        extra_context = {**(extra_context or {}), "can_run_backup": self.has_run_permission(request)}
        return super().changelist_view(request, extra_context)

    def run_view(self, request):
        if request.method != "POST" or not self.has_run_permission(request):
            raise PermissionDenied
        user_id = request.user.pk
        transaction.on_commit(lambda: run_backup.delay(user_id, BackupKind.MANUAL))
        audit_log(action="maintenance.backup.requested", actor=request.user, ip_address=client_ip(request))
        self.message_user(
            request, "Backup queued: it appears here as Running, then Good, in a moment.", messages.SUCCESS
        )
        return redirect("admin:maintenance_backup_changelist")

    # --- The maintenance dashboard (one page for the whole of data maintenance) ---------------

    def may_start(self, request, kind: str) -> bool:
        user = request.user
        if kind in (OperationKind.BACKUP, OperationKind.RESTORE_DRILL):
            return user.has_perm("maintenance.run_backup")
        if kind in (OperationKind.ARCHIVE, OperationKind.ARCHIVE_DRY_RUN):
            return user.is_superuser or getattr(user, "role", None) in (Role.ADMIN, Role.MANAGER)
        return user.has_perm("maintenance.optimise_database")

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        data = dashboard_data()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Maintenance dashboard",
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
        kind = request.POST.get("kind", "")
        if request.method != "POST" or kind not in OperationKind.values or not self.may_start(request, kind):
            raise PermissionDenied
        params = {"tables": request.POST.getlist("tables")} if kind == OperationKind.OPTIMISE else {}
        if kind == OperationKind.OPTIMISE and maintenance_busy():
            audit_log(action="maintenance.optimise.refused", actor=request.user, outcome=Outcome.FAILURE,
                      ip_address=client_ip(request), detail={**params, "reason": BUSY})  # fmt: skip
            self.message_user(request, f"Not optimised: {BUSY}", messages.ERROR)
            return redirect("admin:maintenance_dashboard")
        try:
            operation = operation_start(kind=kind, actor=request.user, params=params, ip_address=client_ip(request))
        except OperationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request, f"{operation.get_kind_display()} queued: its progress shows below.", messages.SUCCESS
            )
        return redirect("admin:maintenance_dashboard")

    def operation_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return JsonResponse(get_object_or_404(Operation, pk=pk).progress())

    def download_view(self, request, pk):
        if not request.user.has_perm("maintenance.download_backup"):
            raise PermissionDenied
        backup = get_object_or_404(Backup, pk=pk, status=BackupStatus.SUCCESS)
        path = backup_path(backup)
        if not path.exists():
            raise Http404("The backup file is no longer on this server.")
        audit_log(
            action="maintenance.backup.downloaded", actor=request.user, target=backup, ip_address=client_ip(request),
            detail={"file": backup.file_name},
        )  # fmt: skip
        return FileResponse(open(path, "rb"), as_attachment=True, filename=backup.file_name)  # noqa: SIM115

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        colours = {BackupStatus.SUCCESS: "#15803d", BackupStatus.FAILED: "#b91c1c", BackupStatus.RUNNING: "#2563eb"}
        return format_html(
            '<strong style="color:{}" title="{}">{}</strong>', colours.get(obj.status, "#6b7280"), obj.error or "",
            obj.get_status_display(),
        )  # fmt: skip

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj):
        return filesizeformat(obj.size_bytes) if obj.size_bytes is not None else "—"

    @admin.display(description="took")
    def took(self, obj):
        return f"{obj.duration.total_seconds():.1f} s" if obj.duration else "—"

    @admin.display(description="verified", ordering="verified_at")
    def verified_badge(self, obj):
        if obj.verify_ok is None:
            return "—"
        label, colour = ("✔ verified", "#15803d") if obj.verify_ok else ("✘ failed", "#b91c1c")
        return format_html('<span style="color:{}" title="{}">{}</span>', colour, obj.verified_at, label)

    @admin.display(description="file")
    def download(self, obj):
        if obj.status != BackupStatus.SUCCESS:
            return obj.file_name
        url = reverse("admin:maintenance_backup_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.file_name)

    @admin.action(description="Verify selected backups (checksums and contents)", permissions=["run"])
    def verify_selected(self, request, queryset):
        self._queue_verification(request, queryset, restore_test=False)

    @admin.action(description="Restore-test selected backups (into a scratch database)", permissions=["run"])
    def restore_test_selected(self, request, queryset):
        self._queue_verification(request, queryset, restore_test=True)

    @admin.action(description="Copy selected backups off-site (second directory, S3)", permissions=["run"])
    def copy_offsite_selected(self, request, queryset):
        if not offsite_configured():
            self.message_user(
                request, "No off-site target is configured (BACKUP_COPY_DIR, BACKUP_S3_BUCKET).", messages.ERROR
            )
            return
        ids, user_id = list(queryset.filter(status=BackupStatus.SUCCESS).values_list("pk", flat=True)), request.user.pk
        for backup_id in ids:
            transaction.on_commit(lambda b=backup_id: copy_backup_offsite.delay(b, user_id))
        self.message_user(request, f"{len(ids)} off-site copy(ies) queued.", messages.SUCCESS)

    def _queue_verification(self, request, queryset, *, restore_test: bool):
        ids, user_id = list(queryset.filter(status=BackupStatus.SUCCESS).values_list("pk", flat=True)), request.user.pk
        for backup_id in ids:
            transaction.on_commit(lambda b=backup_id: verify_backup.delay(b, restore_test, user_id))
        self.message_user(request, f"{len(ids)} verification(s) queued.", messages.SUCCESS)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    """The retention rules, as data: managers and admins change periods or switch a rule off."""

    list_display = ["name", "target", "action", "after_days", "purge_after_days", "enabled"]
    list_editable = ["enabled"]
    list_filter = ["action", "enabled"]
    readonly_fields = ["code", "target", "action"]

    def has_add_permission(self, request):
        return False  # a new rule needs code that applies it

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off instead


@admin.register(LifecycleRun)
class LifecycleRunAdmin(ReadOnlyAdmin):
    """Every archive and cleanup run: what moved or went, per table, and how it ended."""

    list_display = ["started_at", "kind", "dry_run", "outcome", "rows", "took", "actor"]
    list_filter = ["kind", "outcome", "dry_run"]
    list_select_related = ["actor"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in LifecycleRun._meta.fields]

    @admin.display(description="rows")
    def rows(self, obj):
        return sum(sum(figures.values()) for figures in obj.counts.values())

    @admin.display(description="took")
    def took(self, obj):
        return f"{obj.seconds:.1f} s" if obj.seconds is not None else "running"


class AlertStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.open()
        if self.value() == "resolved":
            return queryset.resolved()
        return queryset


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Alerts raised by the periodic check (maintenance/alerts.py); they resolve themselves when
    the condition clears, so there is nothing to edit here."""

    list_display = ["opened_at", "state", "message", "last_seen_at", "resolved_at", "notified_at"]
    list_filter = [AlertStateFilter, "code"]
    search_fields = ["message", "code"]
    date_hierarchy = "opened_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in Alert._meta.fields]

    @admin.display(description="state", ordering="resolved_at")
    def state(self, obj):
        if obj.is_open:
            return format_html('<strong style="color:#b91c1c">{}</strong>', "Open")
        return format_html('<span style="color:#15803d">{}</span>', "Resolved")


@admin.register(RestoreDrill)
class RestoreDrillAdmin(ReadOnlyAdmin):
    """Every restore drill: the backup it restored, whether it came back intact, and how long
    recovery took against the recovery time objective."""

    list_display = ["started_at", "backup_file", "outcome", "recovery_time", "rto", "tables", "rows", "invoices"]
    list_filter = ["outcome"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in RestoreDrill._meta.fields]

    @admin.display(description="recovery time", ordering="seconds")
    def recovery_time(self, obj):
        return f"{obj.seconds:.1f} s" if obj.seconds is not None else "—"

    @admin.display(description="RTO")
    def rto(self, obj):
        if obj.meets_rto is None:
            return "—"
        label, colour = ("✔ within", "#15803d") if obj.meets_rto else ("✘ over", "#b91c1c")
        return format_html('<span style="color:{}">{} {} h</span>', colour, label, obj.rto_hours)


# django-celery-beat registers its own PeriodicTaskAdmin whose actions only ask for the view
# permission, so a MANAGER (view only on schedules) could switch off the nightly backup or fire
# any job. Re-register it with every action behind the change permission, and audited.
admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    """Schedules: MANAGER may look, only a holder of the change permission (ADMIN) may act."""

    def _acted(self, request, queryset, act, action: str) -> None:
        # The changelist filter may select on ``enabled`` itself, so take the rows before acting.
        pks = list(queryset.values_list("pk", flat=True))
        act(request, queryset)
        for task in PeriodicTask.objects.filter(pk__in=pks):
            audit_log(
                action=action,
                actor=request.user,
                target=task,
                detail={"enabled": task.enabled},
                ip_address=client_ip(request),
            )

    @admin.action(description=_("Enable selected tasks"), permissions=["change"])
    def enable_tasks(self, request, queryset):
        self._acted(request, queryset, super().enable_tasks, "maintenance.periodic_task.changed")

    @admin.action(description=_("Disable selected tasks"), permissions=["change"])
    def disable_tasks(self, request, queryset):
        self._acted(request, queryset, super().disable_tasks, "maintenance.periodic_task.changed")

    @admin.action(description=_("Toggle activity of selected tasks"), permissions=["change"])
    def toggle_tasks(self, request, queryset):
        self._acted(request, queryset, super().toggle_tasks, "maintenance.periodic_task.changed")

    @admin.action(description=_("Run selected tasks"), permissions=["change"])
    def run_tasks(self, request, queryset):
        self._acted(request, queryset, super().run_tasks, "maintenance.periodic_task.run")


class PurgeTrashMixin:
    """The "purge" action of a soft-delete model's changelist: its deactivated rows deleted for
    good through ``trash_purge`` (what protects a row protects it here too)."""

    def has_purge_permission(self, request) -> bool:
        """Deleting for good is an ADMIN's decision (domain: STAFF never hard-deletes)."""
        return request.user.has_perm("maintenance.purge_trash")

    @admin.action(description=_("Purge selected %(verbose_name_plural)s (permanently delete)"), permissions=["purge"])
    def purge_selected(self, request, queryset):
        selected = list(queryset.values_list("pk", "status"))
        active = sum(1 for _, status in selected if status == Status.ON)
        trash = Trash(
            model=self.model, older_than_days=0, pks=tuple(pk for pk, status in selected if status == Status.OFF)
        )
        try:
            run = cleanup_run(trash=trash, dry_run=False, actor=request.user)["trash"]
        except MaintenanceBusy as exc:
            self.message_user(request, str(exc) or _("Another cleanup is running; try again later."), messages.ERROR)
            return
        figures = run.counts.get(self.opts.db_table, {})
        purged, kept = figures.get(REMOVED, 0), figures.get("kept: protected", 0)
        self.message_user(
            request, ngettext("%d row purged.", "%d rows purged.", purged) % purged,
            messages.SUCCESS if purged else messages.INFO,
        )  # fmt: skip
        if kept:
            self.message_user(
                request,
                ngettext(
                    "%d row kept: other records depend on it (deactivate it instead).",
                    "%d rows kept: other records depend on them (deactivate them instead).",
                    kept,
                ) % kept,
                messages.WARNING,
            )  # fmt: skip
        if active:
            self.message_user(
                request,
                ngettext("%d active row skipped: only deactivated rows are purged.",
                         "%d active rows skipped: only deactivated rows are purged.", active) % active,
                messages.WARNING,
            )  # fmt: skip


def add_purge(site: admin.AdminSite) -> None:
    """Give every soft-delete admin registered so far the purge action, after "restore"."""
    for model, model_admin in list(site._registry.items()):
        if not isinstance(model_admin, SoftDeleteAdmin):
            continue
        original = type(model_admin)
        actions = list(original.actions)
        after = actions.index("reactivate_selected") + 1 if "reactivate_selected" in actions else len(actions)
        actions.insert(after, "purge_selected")
        site.unregister(model)
        attrs = {"actions": actions, "__module__": original.__module__}
        site.register(model, type(original.__name__, (PurgeTrashMixin, original), attrs))


add_purge(admin.site)
