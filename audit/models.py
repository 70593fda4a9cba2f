"""The audit trail: who did which data-management operation, to what, when, and how it went.

The ground floor of Beils: every app records its operations here (``audit.services.audit_log``)
and this app imports none of them. The tables keep the names they had in ``maintenance``.
"""

import hashlib
import json
from datetime import UTC, datetime

from django.conf import settings
from django.db import connections, models, router, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from audit.actions import action_label


class Outcome(models.TextChoices):
    SUCCESS = "SUCCESS", _("Success")
    FAILURE = "FAILURE", _("Failure")
    DRY_RUN = "DRY_RUN", _("Dry run")


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit entries are append-only.")  # i18n: technical

    def delete(self):
        raise PermissionError(  # i18n: technical
            "Audit entries are append-only; old entries are rotated (audit.chain.chain_rotate)."
        )

    def redact(self, *, target_label: str) -> int:
        """Replace these entries' target label: GDPR erasure (``crm.erasure``), because the label
        is the target's ``str()``, a client's name. The only change entries ever take; who did
        what, when and how it went stay as they were."""
        return super().update(target_label=target_label)

    def for_action(self, prefix: str):
        return self.filter(action__startswith=prefix)

    def failures(self):
        return self.filter(outcome=Outcome.FAILURE)


def entry_hash(
    *, created_at, actor_label, action, target_type, target_id, outcome, detail, ip_address, prev_hash
) -> str:
    """SHA-256 over a canonical serialisation of an entry's immutable fields and the previous
    entry's hash. Left out on purpose: ``target_label``, which GDPR erasure legitimately redacts
    (``redact``), and the ``actor`` foreign key, which Django nulls when an account is deleted;
    ``actor_label`` (the e-mail at the time) says who it was."""
    if isinstance(created_at, datetime) and created_at.tzinfo is not None:
        created_at = created_at.astimezone(UTC)
    values = [
        1,  # the serialisation's version
        created_at.isoformat(timespec="microseconds"),
        actor_label,
        action,
        target_type,
        None if target_id is None else str(target_id),
        str(outcome),
        detail,
        ip_address or None,
        prev_hash or "",
    ]
    payload = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class AuditChainHead(models.Model):
    """One row: the newest link of the audit chain. Every append locks it (``select_for_update``)
    until its transaction commits, so two appends at once cannot both chain to the same entry,
    and it lets verification notice when the newest entries were removed."""

    ROW = 1

    last_id = models.BigIntegerField(_("newest entry"), null=True, blank=True)
    last_hash = models.CharField(_("newest hash"), max_length=64, blank=True, default="")

    class Meta:
        db_table = "maintenance_auditchainhead"
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain heads")

    def __str__(self):
        return f"#{self.last_id} {self.last_hash[:12]}"

    @classmethod
    def ensure(cls, using: str) -> None:
        """Create the head row if it is missing, without a locking read: in InnoDB a locking read
        of a missing row takes a gap lock, and two appends holding one deadlock on their inserts.
        On MariaDB the insert is an upsert that changes nothing: INSERT IGNORE would take a shared
        lock on the row another append just inserted, and upgrading it for the append's own
        ``select_for_update`` deadlocks against that append's next one; the upsert waits for an
        exclusive lock instead."""
        rows = cls.objects.using(using)
        if rows.filter(pk=cls.ROW).exists():
            return
        connection = connections[using]
        if connection.vendor != "mysql":
            rows.bulk_create([cls(pk=cls.ROW)], ignore_conflicts=True)
            return
        table, pk = (connection.ops.quote_name(name) for name in (cls._meta.db_table, cls._meta.pk.column))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({pk}, last_hash) VALUES (%s, '') ON DUPLICATE KEY UPDATE {pk} = {pk}",  # noqa: S608
                [cls.ROW],
            )

    @classmethod
    def locked(cls, using: str) -> "AuditChainHead":
        """The head row, locked until the end of the current transaction. It exists from the
        migration on (and after a flush, see ``AuditConfig``); should it be missing, it is made."""
        cls.ensure(using)
        return cls.objects.using(using).select_for_update().get(pk=cls.ROW)


class AuditChainGap(models.Model):
    """A run of consecutive entries removed by rotation: where the chain entered it (the first
    entry's ``prev_hash``) and left it (the last entry's ``hash``). Enough to check that the
    entries on either side still link up, without keeping what the rotated entries said."""

    first_id = models.BigIntegerField(_("first entry"), unique=True)
    last_id = models.BigIntegerField(_("last entry"))
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True)
    last_hash = models.CharField(_("last hash"), max_length=64)
    entries = models.PositiveIntegerField(_("entries"))
    rotated_at = models.DateTimeField(_("rotated"), default=timezone.now)

    class Meta:
        db_table = "maintenance_auditchaingap"
        verbose_name = _("rotated stretch of the audit trail")
        verbose_name_plural = _("rotated stretches of the audit trail")
        ordering = ["first_id"]

    def __str__(self):
        return f"#{self.first_id}–#{self.last_id} ({self.entries})"


class AuditEntry(models.Model):
    """Who did which data-management operation, to what, when, and how it went. Append-only and
    hash-chained: each entry stores the previous entry's hash and its own (``entry_hash``)."""

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(
        _("actor"), max_length=255, help_text=_("Kept when the account is gone; 'system' for scheduled jobs")
    )
    action = models.CharField(_("action"), max_length=100)
    target_type = models.CharField(_("target type"), max_length=100, null=True, blank=True)
    target_id = models.CharField(_("target id"), max_length=100, null=True, blank=True)
    target_label = models.CharField(_("target"), max_length=255, null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True, default="", editable=False)
    hash = models.CharField(_("hash"), max_length=64, blank=True, default="", editable=False)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        db_table = "maintenance_auditentry"
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="maint_audit_target"),
            # The trail's filters, newest first: read off the index, not sorted from a scan.
            models.Index(fields=["outcome", "created_at"], name="audit_outcome_created"),
            models.Index(fields=["action", "created_at"], name="audit_action_created"),
        ]

    def __str__(self):
        when = date_format(timezone.localtime(self.created_at), "SHORT_DATETIME_FORMAT")
        return f"{when} {self.actor_label} · {action_label(self.action)} · {self.get_outcome_display()}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit entries are append-only.")  # i18n: technical
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        # The head stays locked until the caller's transaction commits: an entry written inside a
        # longer transaction holds the chain until then, so the next one links to it, not past it.
        with transaction.atomic(using=using):
            head = AuditChainHead.locked(using)
            self.prev_hash = head.last_hash
            self.hash = self.compute_hash()
            super().save(*args, **kwargs)
            AuditChainHead.objects.using(using).filter(pk=head.pk).update(last_id=self.pk, last_hash=self.hash)

    @property
    def action_words(self) -> str:
        """The action in words (``audit.actions``), for people; ``action`` stays the code."""
        return action_label(self.action)

    def compute_hash(self) -> str:
        """This entry's hash from its fields as the database holds them."""
        ip_field = self._meta.get_field("ip_address")
        return entry_hash(
            created_at=self.created_at, actor_label=self.actor_label, action=self.action,
            target_type=self.target_type, target_id=self.target_id, outcome=self.outcome,
            detail=json.loads(json.dumps(self.detail)), ip_address=ip_field.get_prep_value(self.ip_address),
            prev_hash=self.prev_hash,
        )  # fmt: skip

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit entries are append-only.")  # i18n: technical
