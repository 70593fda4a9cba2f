"""Every periodic job of Beils, in one place, with its schedule in plain words.

``sync_schedules`` writes these into django-celery-beat's tables after every ``migrate``. It
creates what is missing and never overwrites a schedule someone has edited in the admin
(Periodic tasks), so the admin stays the place to change times or switch a job off.
"""

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ScheduledJob:
    """One periodic task as it is first written to django-celery-beat (not an import/export
    ``maintenance.models.Job``)."""

    name: str  # the periodic task's key in django-celery-beat: stays English
    task: str
    when: str  # in plain words, shown in the admin description (written in English, shown translated)
    minute: str = "0"
    hour: str = "*"
    day_of_week: str = "*"
    day_of_month: str = "*"
    enabled: bool = True
    kwargs: str = "{}"
    #: A boolean setting that switches the job on (at the next ``migrate``) when true.
    enabled_by: str = ""


JOBS = [
    ScheduledJob("Heartbeat", "maintenance.heartbeat", _("every five minutes"), minute="*/5"),
    ScheduledJob(
        "Stale-work check",
        "maintenance.reap_stale_work",
        _(
            "every five minutes: a backup or import/export job with no sign of life for STALE_WORK_MINUTES "
            "(killed, or its machine stopped) is marked failed, its temporary files removed and the admins "
            "mailed once (maintenance/reaper.py)"
        ),
        minute="*/5",
    ),
    ScheduledJob("Nightly backup", "maintenance.backup", _("every day at 02:00"), minute="0", hour="2"),
    ScheduledJob("Prune old backups", "maintenance.prune_backups", _("every day at 02:45"), minute="45", hour="2"),
    ScheduledJob(
        "Nightly archive",
        "maintenance.archive",
        _("every day at 03:00: the retention policies (old sales to the archive, inactive accounts, rotation)"),
        minute="0",
        hour="3",
    ),
    ScheduledJob(
        "Weekly restore test",
        "maintenance.restore_drill",
        _(
            "every Sunday at 05:00: a restore drill (maintenance/drill.py) that restores the newest good backup into "
            "a scratch database, checks it and the invoice chain there, and records the recovery time against the RTO"
        ),
        minute="0",
        hour="5",
        day_of_week="0",
    ),
    ScheduledJob(
        "Nightly cleanup",
        "maintenance.cleanup",
        _(
            "every day at 04:00: reports orphaned rows (fixes none), purges trash older than TRASH_PURGE_DAYS and "
            "clears the personal part of client merges past MERGE_UNDO_DAYS; test data is never removed "
            "automatically (manage.py cleanup --test-data does that, by hand)"
        ),
        minute="0",
        hour="4",
    ),
    ScheduledJob(
        "Alert check",
        "maintenance.check_alerts",
        _(
            "every fifteen minutes: disk space, backup freshness, restore tests, table growth, beat; "
            "mails the admins when an alert opens or clears (maintenance/alerts.py)"
        ),
        minute="*/15",
    ),
    ScheduledJob(
        "Forgetting review",
        "maintenance.forget_review",
        _(
            "every Monday at 07:00: counts the clients due to be forgotten (retention policy clients-forget) and "
            "mails the admins where to find the review list; it never erases anyone: an ADMIN does, after reviewing "
            "(maintenance/forget.py). Does nothing while the policy is off"
        ),
        minute="0",
        hour="7",
        day_of_week="1",
    ),
    ScheduledJob(
        "Monthly optimise",
        "maintenance.optimise_tables",
        _(
            "on the 1st of every month at 04:30: OPTIMIZE TABLE on the most fragmented tables (SQLite: VACUUM). "
            "Off by default: a rebuild locks writes to big tables on older servers; switch it on here when wanted"
        ),
        minute="30",
        hour="4",
        day_of_month="1",
        enabled=False,
    ),
    ScheduledJob(
        "Monthly invoice register",
        "sales.email_invoice_register",
        _(
            "on the 1st of every month at 06:00: last month's register of issued invoices (CSV, XLSX and the "
            "Veri*Factu records as JSON) e-mailed to every active ADMIN (sales/register.py). Off by default; "
            "INVOICE_REGISTER_EMAIL=true or switching it on here turns it on"
        ),
        minute="0",
        hour="6",
        day_of_month="1",
        enabled=False,
        enabled_by="INVOICE_REGISTER_EMAIL",
    ),
]


#: The jobs' names as people read them (the stored name is the job's key and stays English).
LABELS = {
    "Heartbeat": _("Heartbeat"),
    "Stale-work check": _("Stale-work check"),
    "Nightly backup": _("Nightly backup"),
    "Prune old backups": _("Prune old backups"),
    "Nightly archive": _("Nightly archive"),
    "Weekly restore test": _("Weekly restore test"),
    "Nightly cleanup": _("Nightly cleanup"),
    "Alert check": _("Alert check"),
    "Monthly optimise": _("Monthly optimise"),
    "Forgetting review": _("Forgetting review"),
    "Monthly invoice register": _("Monthly invoice register"),
}
BY_NAME = {job.name: job for job in JOBS}


def stored_description(job: ScheduledJob) -> str:
    """The description ``sync_schedules`` writes: English, like every value stored for machines."""
    with translation.override("en"):
        return f"Runs {job.when}."


def job_label(name: str) -> str:
    return str(LABELS.get(name, name))


def job_description(name: str, description: str) -> str:
    """A periodic task's description for a person: the translated default while nobody has
    edited it in the admin, else what was written there."""
    job = BY_NAME.get(name)
    if job is not None and description == stored_description(job):
        return _("Runs %(when)s.") % {"when": job.when}
    return description


def sync_schedules(using: str = "default") -> list[str]:
    """Create the missing periodic tasks; return the names created."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = []
    for job in JOBS:
        switched_on = bool(job.enabled_by and getattr(settings, job.enabled_by, False))
        existing = PeriodicTask.objects.using(using).filter(name=job.name)
        if existing.exists():
            if switched_on:
                existing.filter(enabled=False).update(enabled=True)
            continue
        crontab, _ = CrontabSchedule.objects.using(using).get_or_create(
            minute=job.minute,
            hour=job.hour,
            day_of_week=job.day_of_week,
            day_of_month=job.day_of_month,
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.using(using).create(
            name=job.name,
            task=job.task,
            crontab=crontab,
            enabled=job.enabled or switched_on,
            kwargs=job.kwargs,
            description=stored_description(job),
        )
        created.append(job.name)
    return created
