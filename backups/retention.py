"""Which backups to keep: grandfather-father-son retention, as a pure function."""

from collections.abc import Callable, Hashable, Iterable
from datetime import date, datetime
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

# Each tier's calendar bucket, from the backup's own (local) wall-clock date.
_BUCKETS: dict[str, Callable[[date], Hashable]] = {
    "daily": lambda day: day,
    "weekly": lambda day: tuple(day.isocalendar())[:2],  # (ISO year, ISO week): 30 Dec 2024 is 2025-W01
    "monthly": lambda day: (day.year, day.month),
    "yearly": lambda day: day.year,
}


def retained(
    backups: Iterable[tuple[K, datetime]], *, daily: int, weekly: int, monthly: int, yearly: int | None
) -> set[K]:
    """The keys of the backups to keep, out of ``(key, started_at)`` pairs.

    The rule (grandfather-father-son), each tier counting only periods that have a backup:

    - the newest backup of each of the ``daily`` most recent calendar days;
    - the newest of each of the ``weekly`` most recent ISO weeks (Monday to Sunday);
    - the newest of each of the ``monthly`` most recent calendar months;
    - the newest of each of the ``yearly`` most recent years, or of every year when ``yearly`` is
      None;
    - and always the newest backup overall.

    The result is the union. A period with no backup does not use up a slot, so a week without
    backups does not shorten the history kept. Every backup kept is the newest of its day, so
    applying the rule to its own result keeps all of it.

    Backups are bucketed by the wall-clock date of the datetime as given: the caller converts to
    the salon's local time first. "Newest" compares the instants; between two backups with the
    same instant, the one that comes first in ``backups`` counts as the newer.
    """
    # sorted() is stable with reverse=True too, so ties keep their input order.
    newest_first = sorted(backups, key=lambda pair: pair[1], reverse=True)
    if not newest_first:
        return set()
    kept = {newest_first[0][0]}
    for tier, count in (("daily", daily), ("weekly", weekly), ("monthly", monthly), ("yearly", yearly)):
        kept |= _newest_per_period(newest_first, _BUCKETS[tier], count)
    return kept


def _newest_per_period(newest_first: list[tuple[K, datetime]], bucket, count: int | None) -> set[K]:
    """The first (newest) key of each of the ``count`` most recent periods (all when None)."""
    seen: set[Hashable] = set()
    kept: set[K] = set()
    for key, when in newest_first:
        if count is not None and len(seen) >= count:
            break
        period = bucket(when.date())
        if period not in seen:
            seen.add(period)
            kept.add(key)
    return kept
