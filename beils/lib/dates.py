"""Local-day arithmetic done in Python, so queries compare plain datetimes (no database time
zone conversion, which MariaDB can only do with its time-zone tables loaded)."""

from datetime import date, datetime, time, timedelta

from django.utils import timezone


def day_bounds(day: date, days: int = 1) -> tuple[datetime, datetime]:
    """The half-open interval [start, end) of ``days`` local days starting on ``day``."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=days), time.min, tzinfo=tz)
    return start, end
