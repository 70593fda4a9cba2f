from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from audit.models import Outcome
from crm.models import Client


def _when(value) -> str:
    """A moment as the reader's locale writes it (titles of the admin's change pages)."""
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


class Heartbeat(models.Model):
    """The last time a background component proved it was alive (beat, worker)."""

    name = models.CharField(_("component"), max_length=50, unique=True)
    last_seen = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self):
        return f"{self.name} @ {_when(self.last_seen)}"

    #: Beat sends a heartbeat every five minutes; two missed beats mean the background jobs are down.
    GRACE = timedelta(minutes=11)

    @classmethod
    def beat(cls, name: str) -> "Heartbeat":
        heartbeat, _ = cls.objects.update_or_create(name=name, defaults={"last_seen": timezone.now()})
        return heartbeat

    @property
    def is_fresh(self) -> bool:
        return timezone.now() - self.last_seen < self.GRACE


# --- Data lifecycle: retention policies and the runs that apply them -------------------------


class RetentionAction(models.TextChoices):
    ARCHIVE = "ARCHIVE", _("Move to the archive tables")
    DEACTIVATE = "DEACTIVATE", _("Deactivate")
    REVIEW = "REVIEW", _("List for review")
    ROTATE = "ROTATE", _("Delete when older")
    KEEP = "KEEP", _("Keep indefinitely")


#: The policy of forgetting on time (maintenance/forget.py), and its shortest period: a client
#: who comes once a year is a client, not someone to forget.
FORGET_POLICY_CODE = "clients-forget"
FORGET_MIN_DAYS = 365


class RetentionPolicy(models.Model):
    """How long one kind of record stays where it is, and what happens after. Seeded with the
    salon guide's defaults; editable in the admin; applied by ``manage.py archive``."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    target = models.CharField(_("records"), max_length=100, help_text=_("app_label.Model"))
    action = models.CharField(_("action"), max_length=10, choices=RetentionAction.choices)
    after_days = models.PositiveIntegerField(_("after (days)"), null=True, blank=True)
    purge_after_days = models.PositiveIntegerField(
        _("purge after (days, in total)"), null=True, blank=True, help_text=_("Empty: never purged")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    notes = models.TextField(_("why"), blank=True)

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(purge_after_days__isnull=True)
                | models.Q(after_days__isnull=False, purge_after_days__gte=models.F("after_days")),
                name="maint_policy_purge_after_archive",
            ),
            models.CheckConstraint(
                condition=~models.Q(code=FORGET_POLICY_CODE)
                | models.Q(after_days__isnull=True)
                | models.Q(after_days__gte=FORGET_MIN_DAYS),
                name="maint_policy_forget_a_year_or_more",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.code == FORGET_POLICY_CODE and self.after_days is not None and self.after_days < FORGET_MIN_DAYS:
            raise ValidationError(
                {"after_days": _("Forgetting needs %(days)s days (a year) or more; empty means RETENTION_FORGET_YEARS.")
                 % {"days": FORGET_MIN_DAYS}}
            )  # fmt: skip


class ForgettableClient(Client):
    """The review list of forgetting on time (maintenance/forget.py): clients with no activity
    for the retention policy ``clients-forget``'s period. A proxy: no table of its own, its own
    admin page and permissions (MANAGER views, ADMIN erases)."""

    class Meta:
        proxy = True
        verbose_name = _("client due to be forgotten")
        verbose_name_plural = _("clients due to be forgotten")


class LifecycleKind(models.TextChoices):
    ARCHIVE = "ARCHIVE", _("Archive")
    RESTORE = "RESTORE", _("Restore from archive")
    CLEANUP = "CLEANUP", _("Cleanup")
    FORGET = "FORGET", _("Forget inactive clients")


class LifecycleRun(models.Model):
    """One run of ``archive`` or ``cleanup`` (scheduled, by hand or from the admin): what it
    moved or removed per table, how long it took and how it ended."""

    kind = models.CharField(_("kind"), max_length=10, choices=LifecycleKind.choices)
    dry_run = models.BooleanField(_("dry run"), default=False)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        _("last sign of life"), null=True, blank=True,
        help_text=_("Written while the work progresses; a RUNNING row whose sign of life is older than "
                    "STALE_WORK_MINUTES was killed and is marked failed by the stale-work check."),
    )  # fmt: skip
    counts = models.JSONField(_("rows per table"), default=dict, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("archive / cleanup run")
        verbose_name_plural = _("archive / cleanup runs")
        ordering = ["-started_at"]
        permissions = [("purge_trash", _("Can delete deactivated rows for good"))]

    def __str__(self):
        return f"{self.get_kind_display()} {_when(self.started_at)}"

    @property
    def seconds(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None

    def add(self, table: str, what: str, rows: int) -> None:
        """Count ``rows`` more rows of ``table`` as ``what`` ("moved", "removed", "restored"…)."""
        if not rows:
            return
        figures = self.counts.setdefault(table, {})
        figures[what] = figures.get(what, 0) + rows


class HealthSnapshot(models.Model):
    """The figures of one ``dbhealth`` run, kept so that the next run can show growth."""

    taken_at = models.DateTimeField(_("taken at"), default=timezone.now, db_index=True)
    tables = models.JSONField(_("tables"), default=dict)  # {table: {"rows": n, "bytes": n}}

    class Meta:
        verbose_name = _("database health snapshot")
        verbose_name_plural = _("database health snapshots")
        ordering = ["-taken_at"]
        get_latest_by = "taken_at"
        permissions = [("optimise_database", _("Can optimise database tables (OPTIMIZE TABLE, VACUUM)"))]

    def __str__(self):
        return _when(self.taken_at)


# --- Monitoring: alerts, admin-started operations, restore drills, scheduled job runs ---------


class AlertQuerySet(models.QuerySet):
    def open(self):
        return self.filter(resolved_at__isnull=True)

    def resolved(self):
        return self.filter(resolved_at__isnull=False)


class Alert(models.Model):
    """A condition that needs a person (disk nearly full, backups stale, beat silent…).

    One open alert per ``code`` at a time: the periodic check opens it (and mails the admins
    once), refreshes ``last_seen_at`` while the condition lasts, and resolves it when the
    condition clears. A condition that comes back later opens a new alert."""

    code = models.CharField(_("condition"), max_length=100, db_index=True)
    message = models.TextField(_("message"))
    opened_at = models.DateTimeField(_("opened"), default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True, db_index=True)
    notified_at = models.DateTimeField(_("mailed"), null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-opened_at"]

    def __str__(self):
        return self.message

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class OperationKind(models.TextChoices):
    BACKUP = "BACKUP", _("Backup")
    RESTORE_DRILL = "RESTORE_DRILL", _("Restore test (drill)")
    ARCHIVE = "ARCHIVE", _("Archive")
    ARCHIVE_DRY_RUN = "ARCHIVE_DRY", _("Archive (dry run)")
    OPTIMISE = "OPTIMISE", _("Optimise tables")


class OperationState(models.TextChoices):
    QUEUED = "QUEUED", _("Queued")
    RUNNING = "RUNNING", _("Running")
    DONE = "DONE", _("Done")
    FAILED = "FAILED", _("Failed")


class Operation(models.Model):
    """A long maintenance operation started from the dashboard, with the progress its page polls."""

    kind = models.CharField(_("kind"), max_length=15, choices=OperationKind.choices)
    state = models.CharField(_("state"), max_length=10, choices=OperationState.choices, default=OperationState.QUEUED)
    percent = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    message = models.CharField(_("message"), max_length=300, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        _("last sign of life"), null=True, blank=True,
        help_text=_("Written while the work progresses; a RUNNING row whose sign of life is older than "
                    "STALE_WORK_MINUTES was killed and is marked failed by the stale-work check."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("maintenance operation")
        verbose_name_plural = _("maintenance operations")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.state in (OperationState.QUEUED, OperationState.RUNNING)

    def progress(self) -> dict:
        return {
            "id": self.pk, "kind": self.kind, "label": self.get_kind_display(), "state": self.state,
            "state_label": self.get_state_display(), "percent": self.percent, "message": self.message,
            "active": self.is_active,
        }  # fmt: skip


class TaskRun(models.Model):
    """The latest run of each Celery task, written by Celery's signals (maintenance/monitoring.py):
    when it last ran, how long it took and whether it raised. One row per task."""

    task = models.CharField(_("task"), max_length=200, unique=True)
    started_at = models.DateTimeField(_("last started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("last finished"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)

    class Meta:
        verbose_name = _("task run")
        verbose_name_plural = _("task runs")

    def __str__(self):
        return self.task

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at and self.finished_at >= self.started_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class ScheduleSlot(models.Model):
    """A periodic task sent for one slot of its schedule (maintenance/beat.py). The unique key is
    the lock: when two beat processes run, the second one's insert fails and it sends nothing."""

    name = models.CharField(_("periodic task"), max_length=200)
    slot = models.DateTimeField(_("slot"))
    host = models.CharField(_("sent by host"), max_length=255)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    # A second beat that found the slot taken: noted here, so that the admin shows it.
    duplicates = models.PositiveIntegerField(_("duplicates skipped"), default=0)
    duplicate_host = models.CharField(_("last skipped by host"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("scheduled run")
        verbose_name_plural = _("scheduled runs")
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="maintenance_scheduleslot_once")]
        indexes = [models.Index(fields=["slot"], name="maintenance_scheduleslot_slot")]

    def __str__(self):
        return f"{self.name} @ {_when(self.slot)} ({self.host})"
