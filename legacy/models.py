"""What the import from the previous Beils Dashboard database keeps: which Beils row each old id
became (so a second run updates instead of duplicating), the runs with their progress and
reconciliation report, and the old installation's invoices as a closed series."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from beils.lib.errors import DomainError
from beils.lib.models import money


class LegacyError(DomainError):
    """A refusal of the legacy import (no source, an unreadable database, a run already going)."""


class LegacyKey(models.Model):
    """One old id and the Beils row it became. ``entity`` is the old table (``users``, ``carts``…)
    or a derived record of it (``carts.payment``)."""

    entity = models.CharField(_("entity"), max_length=40)
    legacy_id = models.CharField(_("legacy id"), max_length=100)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("content type"), on_delete=models.CASCADE, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(_("object id"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("legacy key")
        verbose_name_plural = _("legacy keys")
        constraints = [models.UniqueConstraint(fields=["entity", "legacy_id"], name="legacy_key_unique_per_entity")]
        indexes = [models.Index(fields=["content_type", "object_id"], name="legacy_key_target")]

    def __str__(self):
        return f"{self.entity}:{self.legacy_id} → {self.object_id}"


class RunState(models.TextChoices):
    QUEUED = "QUEUED", _("Queued")
    RUNNING = "RUNNING", _("Running")
    DONE = "DONE", _("Done, reconciled")
    UNRECONCILED = "UNRECONCILED", _("Done, totals differ")
    FAILED = "FAILED", _("Failed")


ACTIVE_STATES = (RunState.QUEUED, RunState.RUNNING)


class LegacyImportRunQuerySet(models.QuerySet):
    def resumable(self, *, source: str):
        """Unfinished runs of ``source`` whose completed entities a new run may skip."""
        return self.filter(source=source, dry_run=False, state__in=[RunState.FAILED, RunState.RUNNING])


class LegacyImportRun(models.Model):
    """One import from a legacy database: its progress while it runs and its report after.

    ``source`` is the database URL *without* its password: the password is never stored."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=255)
    dry_run = models.BooleanField(_("dry run"), default=False)
    state = models.CharField(_("state"), max_length=12, choices=RunState.choices, default=RunState.QUEUED)
    entities_done = models.JSONField(_("entities done"), default=list, blank=True)
    current_entity = models.CharField(_("current entity"), max_length=40, blank=True, default="")
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    rows_total = models.PositiveIntegerField(_("rows total"), default=0)
    resumed_from = models.ForeignKey(
        "self", verbose_name=_("resumed from"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    report = models.JSONField(_("report"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True, default="")

    objects = LegacyImportRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("legacy import")
        verbose_name_plural = _("legacy imports")
        ordering = ["-created_at"]

    def __str__(self):
        return _("Import #%(number)s from %(source)s") % {"number": self.pk, "source": self.source}

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def percent(self) -> int:
        if not self.is_active:
            return 100
        return min(99, 100 * self.rows_done // self.rows_total) if self.rows_total else 0


class LegacyInvoice(models.Model):
    """An invoice issued by the previous system, kept as it was: its own number format and its
    own hash, a closed series that Beils never continues. Beils' invoices (sales.Invoice) start
    their own series and chain; ``verifyinvoices`` checks those, and ``import_legacy`` checks
    that this series is complete and unchanged."""

    # A plain id, not a foreign key: the sale may move to the archive tables (same id), and the
    # invoice names no client by itself (GDPR erasure anonymises the sale, not this record).
    sale_id = models.PositiveBigIntegerField(_("sale id"), null=True, blank=True, db_index=True)
    number = models.CharField(_("number"), max_length=50, unique=True)
    kind = models.CharField(_("type"), max_length=4, blank=True, default="")
    issued_at = models.DateTimeField(_("issued at"))
    total = money(_("total"))
    payment_method = models.CharField(_("payment method"), max_length=50, blank=True, default="")
    hash = models.CharField(_("hash"), max_length=100, blank=True, default="")
    previous_hash = models.CharField(_("previous hash"), max_length=100, null=True, blank=True)
    qr_content = models.TextField(_("QR content"), null=True, blank=True)
    aeat_status = models.CharField(_("AEAT status"), max_length=50, blank=True, default="")
    legacy_id = models.CharField(_("legacy cart id"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("legacy invoice")
        verbose_name_plural = _("legacy invoices")
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["issued_at"], name="legacy_invoice_issued_at")]

    def __str__(self):
        return self.number
