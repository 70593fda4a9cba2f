from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    SUCCESS = "SUCCESS", _("Success")
    FAILURE = "FAILURE", _("Failure")
    DRY_RUN = "DRY_RUN", _("Dry run")


class AuditEntryQuerySet(models.QuerySet):
    def for_action(self, prefix: str):
        return self.filter(action__startswith=prefix)

    def failures(self):
        return self.filter(outcome=Outcome.FAILURE)


class AuditEntry(models.Model):
    """Who did which data-management operation, to what, when, and how it went. Append-only."""

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(
        _("actor"), max_length=255, help_text=_("Kept when the account is gone; 'system' for scheduled jobs")
    )
    action = models.CharField(_("action"), max_length=100, db_index=True)
    target_type = models.CharField(_("target type"), max_length=100, null=True, blank=True)
    target_id = models.CharField(_("target id"), max_length=100, null=True, blank=True)
    target_label = models.CharField(_("target"), max_length=255, null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="maint_audit_target")]
        permissions = [("export_data", _("Can export data (CSV, JSON, XLSX)"))]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.get_outcome_display()}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit entries are append-only.")


class Heartbeat(models.Model):
    """The last time a background component proved it was alive (beat, worker)."""

    name = models.CharField(_("component"), max_length=50, unique=True)
    last_seen = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("heartbeat")

    def __str__(self):
        return f"{self.name} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def beat(cls, name: str) -> "Heartbeat":
        heartbeat, _ = cls.objects.update_or_create(name=name, defaults={"last_seen": timezone.now()})
        return heartbeat
