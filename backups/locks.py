"""One maintenance operation at a time per database: backups, restores and migrations never
overlap. MariaDB's named locks work across every process and host that uses the database; with
SQLite (one machine) a file lock does the same."""

import contextlib
from collections.abc import Iterator

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backups.engines import LockBusy, engine_for
from backups.engines.base import HELD as _held
from backups.engines.base import held_lock  # noqa: F401 - importable from here as before


class MaintenanceBusy(Exception):
    """Another backup, restore or migration holds the maintenance lock."""


@contextlib.contextmanager
def maintenance_lock(alias: str = "default", *, wait_seconds: int = 0) -> Iterator[None]:
    """Re-entrant within a thread: the backup taken by ``migrate`` runs under migrate's lock."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    with _acquire(alias, wait_seconds):
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0


BUSY = gettext_lazy("A backup, restore or migration is already running; try again when it has finished.")


def maintenance_busy(alias: str = "default") -> bool:
    """True while a backup, restore or migration holds the maintenance lock (anywhere). A hint
    for a page to refuse early; the operation itself still takes the lock."""
    if getattr(_held, "depth", 0):
        return False
    return engine_for(alias).lock_in_use("maintenance")


@contextlib.contextmanager
def single_run_lock(job: str, alias: str = "default") -> Iterator[None]:
    """One run of a scheduled job (``archive``, ``cleanup``) at a time, across processes and
    hosts; a second run refuses at once with :class:`MaintenanceBusy`."""
    with _acquire(alias, 0, job, _("Another %(job)s run is in progress; this one did nothing.") % {"job": job}):
        yield


@contextlib.contextmanager
def _acquire(alias: str, wait_seconds: int, job: str = "maintenance", busy: str = BUSY) -> Iterator[None]:
    """The engine's named lock (MariaDB's GET_LOCK on a connection of its own, held across
    hosts; SQLite's file lock on its one machine)."""
    engine = engine_for(alias)
    with contextlib.ExitStack() as stack:
        try:
            holding = stack.enter_context(engine.lock(job, wait_seconds))
        except LockBusy:
            raise MaintenanceBusy(str(busy)) from None
        if job == "maintenance":
            _held.lock = holding
        try:
            yield
        finally:
            _held.lock = None
