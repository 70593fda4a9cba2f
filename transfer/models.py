"""Import and export runs: a large file is checked and loaded, or written, by a Celery worker
as a ``Job`` with its progress and files. The rights to import and export are this app's
permissions (see ``crm/roles.py`` for who holds them)."""

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class JobKind(models.TextChoices):
    IMPORT = "IMPORT", _("Import")
    EXPORT = "EXPORT", _("Export")


class JobState(models.TextChoices):
    QUEUED = "QUEUED", _("Queued")
    RUNNING = "RUNNING", _("Running")
    VALIDATED = "VALIDATED", _("Checked: ready to import")
    INVALID = "INVALID", _("Refused: invalid rows")
    DONE = "DONE", _("Done")
    FAILED = "FAILED", _("Failed")


class JobQuerySet(models.QuerySet):
    def for_user(self, user):
        """Whoever may see every job (ADMIN) sees them all; others see their own."""
        return self if user.has_perm("transfer.view_every_job") else self.filter(actor=user)


class Job(models.Model):
    """A large import or export run by a Celery worker, with its progress and its files.

    An import runs twice: a dry run that validates every row (state VALIDATED or INVALID), then,
    when a person confirms, the real import (DONE). The uploaded file, the failing rows of an
    invalid file and an export's output live in the media storage under ``jobs/<id>/``.
    """

    kind = models.CharField(_("kind"), max_length=10, choices=JobKind.choices)
    state = models.CharField(_("state"), max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    resource = models.CharField(_("resource"), max_length=200, help_text=_("Dotted path of the resource class"))
    model_label = models.CharField(_("data"), max_length=100)
    file_format = models.CharField(_("format"), max_length=10)
    dry_run = models.BooleanField(_("dry run"), default=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("actor")
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    input_name = models.CharField(_("uploaded file"), max_length=300, blank=True)
    input_sha256 = models.CharField(_("uploaded file SHA-256"), max_length=64, blank=True)
    export_pks = models.JSONField(_("selected rows"), null=True, blank=True)
    output_name = models.CharField(_("result file"), max_length=300, blank=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        _("last sign of life"), null=True, blank=True,
        help_text=_("Written while the work progresses; a RUNNING row whose sign of life is older than "
                    "STALE_WORK_MINUTES was killed and is marked failed by the stale-work check."),
    )  # fmt: skip

    objects = JobQuerySet.as_manager()

    class Meta:
        db_table = "maintenance_job"
        verbose_name = _("import/export job")
        verbose_name_plural = _("import/export jobs")
        ordering = ["-created_at"]
        permissions = [
            ("export_data", _("Can export data (CSV, JSON, XLSX)")),
            ("import_data", _("Can import data into any record")),
            ("import_catalogue", _("Can import the catalogue and marketing")),
            ("view_every_job", _("Can see everyone's import and export jobs")),
        ]

    def __str__(self):
        return gettext("%(kind)s of %(data)s #%(id)s") % {
            "kind": self.get_kind_display(), "data": self.data_name, "id": self.pk,
        }  # fmt: skip

    @property
    def data_name(self) -> str:
        """What the job moves, as people call it ("clients"); the label when the model is gone."""
        try:
            return str(apps.get_model(self.model_label)._meta.verbose_name_plural)
        except (LookupError, ValueError):
            return self.model_label

    @property
    def is_active(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING)


class SavedMapping(models.Model):
    """The column mapping a person chose for files from one source (``fresha``, ``generic``,
    "Excel de recepción"…) and one kind of record, so that the next file maps itself. Keys are
    normalised headers (see ``transfer.mapping.normalised``); values are Beils field names, or
    ``""`` for a column that is not imported."""

    source = models.CharField(_("source"), max_length=100)
    resource = models.CharField(_("records"), max_length=50)
    columns = models.JSONField(_("columns"), default=dict, blank=True)
    #: How the source writes its dates (``dmy``, ``mdy``), as the person last chose; blank until
    #: they have.
    date_order = models.CharField(
        _("dates are written"), max_length=3, blank=True, default="",
        choices=[("dmy", _("day/month/year")), ("mdy", _("month/day/year"))],
    )  # fmt: skip
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("changed by"),
    )  # fmt: skip
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("saved column mapping")
        verbose_name_plural = _("saved column mappings")
        ordering = ["source", "resource"]
        constraints = [models.UniqueConstraint(fields=["source", "resource"], name="transfer_mapping_source_resource")]

    def __str__(self):
        return f"{self.source} · {self.resource}"
