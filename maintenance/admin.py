from django.contrib import admin, messages
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import ClockedSchedule, PeriodicTask, SolarSchedule

from audit.services import audit_log
from beils.lib.admin import ReadOnlyAdmin, SoftDeleteAdmin, admin_extend
from beils.lib.models import Status
from beils.lib.net import client_ip
from maintenance import forget_admin  # noqa: F401 (registers "Clients due to be forgotten")
from maintenance.models import Alert, Heartbeat, LifecycleRun, RetentionPolicy, ScheduleSlot
from maintenance.schedules import job_label


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScheduleSlot)
class ScheduleSlotAdmin(ReadOnlyAdmin):
    """Each periodic job as beat sent it: when, from which host, and the duplicates a second
    beat skipped (maintenance/beat.py)."""

    list_display = ["name", "slot", "host", "sent_at", "duplicates", "duplicate_host"]
    list_filter = ["name"]  # the unique key (name, slot) is its index
    date_hierarchy = "slot"
    show_full_result_count = False


AUDITED_POLICY_FIELDS = ("enabled", "after_days", "purge_after_days")


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    """The retention rules, as data: admins change periods or switch a rule off; managers look."""

    list_display = ["name", "target", "action", "after_days", "purge_after_days", "enabled"]
    list_editable = ["enabled"]
    list_filter = ["action", "enabled"]
    readonly_fields = ["code", "target", "action"]

    def has_add_permission(self, request):
        return False  # a new rule needs code that applies it

    def save_model(self, request, obj, form, change):
        """A retention period or switch decides what is archived, deactivated or forgotten: audited."""
        before = RetentionPolicy.objects.filter(pk=obj.pk).values(*AUDITED_POLICY_FIELDS).first() or {}
        super().save_model(request, obj, form, change)
        changed = {name: [before.get(name), getattr(obj, name)] for name in AUDITED_POLICY_FIELDS
                   if before.get(name) != getattr(obj, name)}  # fmt: skip
        if changed:
            audit_log(action="maintenance.retention_policy.changed", actor=request.user, target=obj,
                      ip_address=client_ip(request), detail={"code": obj.code, "changed": changed})  # fmt: skip

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

    @admin.display(description=_("rows"))
    def rows(self, obj):
        return sum(sum(figures.values()) for figures in obj.counts.values())

    @admin.display(description=_("took"))
    def took(self, obj):
        if obj.seconds is None:
            return gettext("running")
        return gettext("%(seconds)s s") % {"seconds": formats.number_format(obj.seconds, 1)}


class AlertStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("Open")), ("resolved", _("Resolved"))]

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

    @admin.display(description=_("state"), ordering="resolved_at")
    def state(self, obj):
        if obj.is_open:
            return format_html('<strong style="color:#b91c1c">{}</strong>', gettext("Open"))
        return format_html('<span style="color:#15803d">{}</span>', gettext("Resolved"))


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    """Schedules: MANAGER may look, only a holder of the change permission (ADMIN) may act."""

    list_display = ["label", "enabled", "schedule", "start_time", "last_run_at", "one_off"]

    @admin.display(description=_("name"), ordering="name")
    def label(self, task):
        """Beils' own jobs under their translated name (the stored name is the job's key)."""
        return job_label(task.name)

    @admin.display(description=_("schedule"))
    def schedule(self, task):
        scheduler = task.scheduler
        if isinstance(scheduler, SolarSchedule):
            # The stored coordinates have six decimals; a person reads them as a place, not a figure.
            return f"{scheduler.get_event_display()} ({_coordinate(scheduler.latitude)}, {_coordinate(scheduler.longitude)})"
        if isinstance(scheduler, ClockedSchedule):
            return formats.date_format(timezone.localtime(scheduler.clocked_time), "SHORT_DATETIME_FORMAT")
        return str(scheduler or "")

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


def _coordinate(value) -> str:
    return formats.number_format(value.normalize()) if value is not None else "—"


class PurgeTrashMixin:
    """The "purge" action of a soft-delete model's changelist: its deactivated rows deleted for
    good through ``trash_purge`` (what protects a row protects it here too)."""

    def has_purge_permission(self, request) -> bool:
        """Deleting for good is an ADMIN's decision (domain: STAFF never hard-deletes)."""
        return request.user.has_perm("maintenance.purge_trash")

    @admin.action(description=_("Purge selected %(verbose_name_plural)s (permanently delete)"), permissions=["purge"])
    def purge_selected(self, request, queryset):
        from backups.locks import MaintenanceBusy
        from maintenance.cleanup import REMOVED, Trash, cleanup_run

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
        actions = list(model_admin.actions)
        after = actions.index("reactivate_selected") + 1 if "reactivate_selected" in actions else len(actions)
        actions.insert(after, "purge_selected")
        admin_extend(site, model, PurgeTrashMixin, actions=actions)


add_purge(admin.site)
