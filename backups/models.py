"""The backup catalogue: every backup file Beils wrote, how it went and when it was last
verified, and the restore drills that prove the backups restore. The tables keep the names
they had in ``maintenance``."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.models import Outcome


class BackupStatus(models.TextChoices):
    RUNNING = "RUNNING", _("Running")
    SUCCESS = "SUCCESS", _("Good")
    FAILED = "FAILED", _("Failed")
    DELETED = "DELETED", _("Pruned")


class BackupKind(models.TextChoices):
    SCHEDULED = "SCHEDULED", _("Scheduled")
    MANUAL = "MANUAL", _("Manual")
    PRE_MIGRATE = "PRE_MIGRATE", _("Before a migration")
    SAFETY = "SAFETY", _("Safety copy before a restore")


class BackupQuerySet(models.QuerySet):
    def good(self):
        """Backups that finished cleanly and whose file passed its checks when last verified."""
        return self.filter(status=BackupStatus.SUCCESS).exclude(verify_ok=False)

    def latest_good(self):
        return self.good().order_by("-started_at").first()

    def partial(self):
        return self.exclude(tables_requested=[])


class Backup(models.Model):
    """One backup file and everything needed to trust it. A JSON manifest beside the file holds
    the same facts, so backups can be listed and verified when this table is gone."""

    file_name = models.CharField(_("file"), max_length=255, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=BackupKind.choices, default=BackupKind.MANUAL)
    status = models.CharField(_("status"), max_length=10, choices=BackupStatus.choices, default=BackupStatus.RUNNING)
    engine = models.CharField(_("engine"), max_length=20)
    server_version = models.CharField(_("server version"), max_length=100, blank=True)
    database = models.CharField(_("database"), max_length=100)
    started_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        _("last sign of life"), null=True, blank=True,
        help_text=_("Written while the work progresses; a RUNNING row whose sign of life is older than "
                    "STALE_WORK_MINUTES was killed and is marked failed by the stale-work check."),
    )  # fmt: skip
    size_bytes = models.BigIntegerField(_("size (bytes)"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    compression = models.CharField(_("compression"), max_length=20, default="gzip")
    encrypted = models.BooleanField(_("encrypted"), default=False)
    tables_requested = models.JSONField(_("tables requested"), default=list, blank=True, help_text=_("Empty = full"))
    tables = models.JSONField(_("tables"), default=dict, blank=True, help_text=_("{table: {rows, sha256}}"))
    migrations = models.JSONField(_("migration state"), default=dict, blank=True)
    storage = models.JSONField(_("copies"), default=list, blank=True, help_text=_("Where copies of the file are"))
    binlog = models.JSONField(
        _("binary log position"), null=True, blank=True,
        help_text=_("Where the binary log stood at the snapshot (file, position, GTID): replay from here"),
    )  # fmt: skip
    ledger = models.JSONField(
        _("erasure ledger copy"), null=True, blank=True,
        help_text=_("The GDPR erasure ledger copied beside the file for its off-site copies (file, SHA-256, entries)"),
    )  # fmt: skip
    media = models.JSONField(
        _("files archive"), null=True, blank=True,
        help_text=_("The uploaded files (consent documents, product images) archived beside the database dump "
                    "(file, size, SHA-256, files); empty for backups taken before files were backed up"),
    )  # fmt: skip
    host = models.CharField(
        _("host"), max_length=255, blank=True, db_index=True,
        help_text=_("The machine that wrote the file (BEILS_HOST): only it, or one holding a copy, can read it"),
    )  # fmt: skip
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    verify_ok = models.BooleanField(_("verification passed"), null=True)
    restore_tested_at = models.DateTimeField(_("restore-tested"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    objects = BackupQuerySet.as_manager()

    class Meta:
        db_table = "maintenance_backup"
        verbose_name = _("backup")
        verbose_name_plural = _("backups")
        ordering = ["-started_at"]
        permissions = [
            ("run_backup", _("Can start backups and verifications")),
            ("download_backup", _("Can download backup files")),
            ("restore_backup", _("Can restore backups")),
        ]

    def __str__(self):
        return self.file_name

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None

    @property
    def row_count(self) -> int:
        return sum(table.get("rows", 0) for table in self.tables.values())


class RestoreDrill(models.Model):
    """One restore drill: the newest good backup restored into a scratch database, verified, and
    the time it took measured against the recovery time objective."""

    backup = models.ForeignKey(
        Backup, on_delete=models.SET_NULL, null=True, blank=True, related_name="drills", verbose_name=_("backup")
    )
    backup_file = models.CharField(_("backup file"), max_length=255)
    engine = models.CharField(_("engine"), max_length=20)
    started_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        _("last sign of life"), null=True, blank=True,
        help_text=_("Written while the work progresses; a RUNNING row whose sign of life is older than "
                    "STALE_WORK_MINUTES was killed and is marked failed by the stale-work check."),
    )  # fmt: skip
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, null=True, blank=True)
    seconds = models.FloatField(_("recovery time (s)"), null=True, blank=True)
    rto_hours = models.PositiveIntegerField(_("RTO target (h)"))
    tables = models.PositiveIntegerField(_("tables"), default=0)
    rows = models.BigIntegerField(_("rows"), default=0)
    invoices = models.PositiveIntegerField(_("invoices checked"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("actor")
    )

    class Meta:
        db_table = "maintenance_restoredrill"
        verbose_name = _("restore drill")
        verbose_name_plural = _("restore drills")
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self):
        when = date_format(timezone.localtime(self.started_at), "SHORT_DATETIME_FORMAT")
        return gettext("Restore drill %(when)s") % {"when": when}

    @property
    def meets_rto(self) -> bool | None:
        if self.seconds is None or self.outcome != Outcome.SUCCESS:
            return None
        return self.seconds <= self.rto_hours * 3600
