"""Every periodic job of Beils, in one place, with its schedule in plain words.

``sync_schedules`` writes these into django-celery-beat's tables after every ``migrate``. It
creates what is missing and never overwrites a schedule someone has edited in the admin
(Periodic tasks), so the admin stays the place to change times or switch a job off.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduledJob:
    """One periodic task as it is first written to django-celery-beat (not an import/export
    ``maintenance.models.Job``)."""

    name: str
    task: str
    when: str  # in plain words, shown in the admin description
    minute: str = "0"
    hour: str = "*"
    day_of_week: str = "*"
    day_of_month: str = "*"
    enabled: bool = True
    kwargs: str = "{}"


JOBS = [
    ScheduledJob("Heartbeat", "maintenance.heartbeat", "every five minutes", minute="*/5"),
    ScheduledJob(
        "Stale-work check",
        "maintenance.reap_stale_work",
        "every five minutes: a backup or import/export job with no sign of life for STALE_WORK_MINUTES "
        "(killed, or its machine stopped) is marked failed, its temporary files removed and the admins "
        "mailed once (maintenance/reaper.py)",
        minute="*/5",
    ),
    ScheduledJob("Nightly backup", "maintenance.backup", "every day at 02:00", minute="0", hour="2"),
    ScheduledJob("Prune old backups", "maintenance.prune_backups", "every day at 02:45", minute="45", hour="2"),
    ScheduledJob(
        "Nightly archive",
        "maintenance.archive",
        "every day at 03:00: the retention policies (old sales to the archive, inactive accounts, rotation)",
        minute="0",
        hour="3",
    ),
    ScheduledJob(
        "Weekly restore test",
        "maintenance.restore_drill",
        "every Sunday at 05:00: a restore drill (maintenance/drill.py) that restores the newest good backup into a "
        "scratch database, checks it and the invoice chain there, and records the recovery time against the RTO",
        minute="0",
        hour="5",
        day_of_week="0",
    ),
    ScheduledJob(
        "Nightly cleanup",
        "maintenance.cleanup",
        "every day at 04:00: reports orphaned rows (fixes none) and purges trash older than TRASH_PURGE_DAYS; "
        "test data is never removed automatically (manage.py cleanup --test-data does that, by hand)",
        minute="0",
        hour="4",
    ),
    ScheduledJob(
        "Alert check",
        "maintenance.check_alerts",
        "every fifteen minutes: disk space, backup freshness, restore tests, table growth, beat; "
        "mails the admins when an alert opens or clears (maintenance/alerts.py)",
        minute="*/15",
    ),
    ScheduledJob(
        "Monthly optimise",
        "maintenance.optimise_tables",
        "on the 1st of every month at 04:30: OPTIMIZE TABLE on the most fragmented tables (SQLite: VACUUM). "
        "Off by default: a rebuild locks writes to big tables on older servers; switch it on here when wanted",
        minute="30",
        hour="4",
        day_of_month="1",
        enabled=False,
    ),
]


def sync_schedules(using: str = "default") -> list[str]:
    """Create the missing periodic tasks; return the names created."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = []
    for job in JOBS:
        if PeriodicTask.objects.using(using).filter(name=job.name).exists():
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
            enabled=job.enabled,
            kwargs=job.kwargs,
            description=f"Runs {job.when}.",
        )
        created.append(job.name)
    return created
