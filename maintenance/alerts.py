"""Alerts: the thresholds of ``dbhealth`` (maintenance/dbhealth.py, ``findings``) turned into
open and resolved :class:`~maintenance.models.Alert` rows and e-mails to the admins.

``alerts_check`` runs every fifteen minutes (maintenance/schedules.py) and from ``manage.py
alerts`` (a system cron line can run that as a watchdog that does not depend on Celery beat):

- a condition that appears opens an alert and mails the admins once;
- while it lasts, the alert's ``last_seen_at`` moves on, and a reminder is mailed every
  ALERT_REMIND_HOURS;
- when it clears, the alert is resolved and the admins are told.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from audit.services import audit_log
from backups.locks import single_run_lock
from maintenance.dbhealth import Finding, database_health
from maintenance.models import Alert, HealthSnapshot

log = logging.getLogger(__name__)

#: Growth is measured against a snapshot about a day old; a new snapshot is kept at most hourly.
GROWTH_WINDOW = timedelta(hours=20)
SNAPSHOT_EVERY = timedelta(hours=1)


@dataclass
class AlertCheck:
    opened: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    still_open: list[Alert] = field(default_factory=list)

    def as_dict(self) -> dict:
        def rows(alerts):
            return [{"code": a.code, "message": a.message, "opened_at": a.opened_at.isoformat()} for a in alerts]

        return {"opened": rows(self.opened), "resolved": rows(self.resolved), "open": rows(self.still_open)}


def alert_recipients() -> list[str]:
    """settings.ADMINS and every active user whose role is ADMIN, without duplicates."""
    from crm.models import Role, User

    emails = [email for _, email in settings.ADMINS]
    emails += list(User.objects.filter(role=Role.ADMIN, is_active=True).values_list("email", flat=True))
    return list(dict.fromkeys(email for email in emails if email))


def current_findings(*, now=None) -> list[Finding]:
    """Measure the database (``database_health``) with growth over about a day."""
    now = now or timezone.now()
    snapshots = HealthSnapshot.objects.order_by("-taken_at")
    baseline = snapshots.filter(taken_at__lte=now - GROWTH_WINDOW).first() or snapshots.last()
    newest = snapshots.first()
    save = newest is None or now - newest.taken_at >= SNAPSHOT_EVERY
    return database_health(save=save, baseline=baseline).findings


def alerts_check(*, findings: list[Finding] | None = None, now=None) -> AlertCheck:
    """Open, refresh and resolve alerts to match the conditions found now; mail the changes.
    One check at a time (a second one refuses with ``MaintenanceBusy``)."""
    now = now or timezone.now()
    with single_run_lock("alerts"):
        found = {f.code: f for f in (current_findings(now=now) if findings is None else findings)}
        open_alerts = {alert.code: alert for alert in Alert.objects.open()}
        result = AlertCheck()
        for code, finding in found.items():
            alert = open_alerts.get(code)
            if alert is None:
                result.opened.append(_open(finding, now))
            else:
                _refresh(alert, finding, now)
                result.still_open.append(alert)
        for code, alert in open_alerts.items():
            if code not in found:
                result.resolved.append(_resolve(alert, now))
        result.still_open += result.opened
    return result


def _open(finding: Finding, now) -> Alert:
    alert = Alert.objects.create(code=finding.code, message=finding.message, opened_at=now, last_seen_at=now)
    audit_log(action="maintenance.alert.opened", target=alert, detail={"code": alert.code, "message": alert.message})
    admins_mail(_("Beils alert: %(message)s") % {"message": alert.message}, _body(alert, _("needs attention")))
    alert.notified_at = now
    alert.save(update_fields=["notified_at"])
    return alert


def _refresh(alert: Alert, finding: Finding, now) -> None:
    alert.message, alert.last_seen_at = finding.message, now
    fields = ["message", "last_seen_at"]
    remind = settings.ALERT_REMIND_HOURS
    if remind and (alert.notified_at is None or now - alert.notified_at >= timedelta(hours=remind)):
        admins_mail(
            _("Beils alert (still open): %(message)s") % {"message": alert.message}, _body(alert, _("is still open"))
        )
        alert.notified_at = now
        fields.append("notified_at")
    alert.save(update_fields=fields)


def _resolve(alert: Alert, now) -> Alert:
    alert.resolved_at = now
    alert.save(update_fields=["resolved_at"])
    audit_log(action="maintenance.alert.resolved", target=alert, detail={"code": alert.code})
    admins_mail(_("Beils alert resolved: %(message)s") % {"message": alert.message}, _body(alert, _("has cleared")))
    return alert


def _body(alert: Alert, what: str) -> str:
    opened = formats.date_format(timezone.localtime(alert.opened_at), "SHORT_DATETIME_FORMAT")
    return _(
        "This condition %(what)s:\n\n    %(message)s\n\nFirst seen %(opened)s. "
        "See the maintenance dashboard in the admin (Data maintenance → Maintenance dashboard) and "
        "docs/disaster-recovery.md.\n"
    ) % {"what": what, "message": alert.message, "opened": opened}


def admins_mail(subject: str, body: str) -> None:
    """Mail the admins (ADMINS, else every active ADMIN user); never fails the caller."""
    recipients = alert_recipients()
    if not recipients:
        log.warning("Not mailed (no ADMINS and no ADMIN user): %s", subject)  # i18n: technical
        return
    send_mail(subject[:200], body, None, recipients, fail_silently=True)
