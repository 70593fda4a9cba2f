"""One run per slot, however many beat processes are started.

Celery beat must run once per installation; two beats (a second machine started with the same
process list, a restart that overlaps) would send every nightly job twice. ``OncePerSlotScheduler``
is django-celery-beat's scheduler with one difference: before a periodic task is sent, the slot it
is due for is claimed in the database (``ScheduleSlot``, unique on task and slot). The claim of a
second beat fails on the unique key, and that beat sends nothing, says so in its log and counts
the skip on the slot's row (the admin's "Scheduled runs").

A slot is the minute a crontab schedule is due in, or the interval an "every N" schedule is in
(counted from the epoch, so that every beat agrees on it).
"""

import logging
from datetime import UTC, datetime, timedelta

from celery.schedules import crontab, schedule
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from maintenance.models import ScheduleSlot

log = logging.getLogger(__name__)

#: Claims older than this are removed as new ones are made: they only have to outlive the slot.
KEEP_CLAIMS = timedelta(days=7)


def schedule_slot(due: schedule, now: datetime) -> datetime:
    """The slot a task due under ``due`` at ``now`` belongs to."""
    if isinstance(due, schedule) and not isinstance(due, crontab):
        seconds = max(int(due.run_every.total_seconds()), 60)
        return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=UTC)
    return now.astimezone(UTC).replace(second=0, microsecond=0)


def slot_claim(name: str, slot: datetime, host: str | None = None) -> bool:
    """Claim ``slot`` of periodic task ``name`` for this beat; False when another beat has it."""
    host = host or settings.BEILS_HOST
    try:
        with transaction.atomic():
            ScheduleSlot.objects.create(name=name, slot=slot, host=host)
    except IntegrityError:
        ScheduleSlot.objects.filter(name=name, slot=slot).update(duplicates=F("duplicates") + 1, duplicate_host=host)
        return False
    ScheduleSlot.objects.filter(slot__lt=slot - KEEP_CLAIMS).delete()
    return True


class OncePerSlotScheduler(DatabaseScheduler):
    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        slot = schedule_slot(entry.schedule, timezone.now())
        try:
            claimed = slot_claim(entry.name, slot)
        except DatabaseError:
            log.exception("Beat could not claim %s for %s; not sent.", entry.name, f"{slot:%Y-%m-%d %H:%M}")
            return None
        if not claimed:
            holder = ScheduleSlot.objects.filter(name=entry.name, slot=slot).values_list("host", flat=True).first()
            log.warning("%s for %s was already sent by the beat on %s; this beat skips it.",
                        entry.name, f"{slot:%Y-%m-%d %H:%M} UTC", holder)  # fmt: skip
            return None
        return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
