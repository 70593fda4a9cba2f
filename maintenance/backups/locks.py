"""One maintenance operation at a time per database: backups, restores and migrations never
overlap. MariaDB's named locks work across every process and host that uses the database; with
SQLite (one machine) a file lock does the same."""

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connections

from beils.lib.private import private_dir, private_open

_held = threading.local()


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


BUSY = "A backup, restore or migration is already running; try again when it has finished."


def maintenance_busy(alias: str = "default") -> bool:
    """True while a backup, restore or migration holds the maintenance lock (anywhere). A hint
    for a page to refuse early; the operation itself still takes the lock."""
    if getattr(_held, "depth", 0):
        return False
    connection = connections[alias]
    if connection.vendor == "mysql":
        # IS_FREE_LOCK looks without taking: a page view never makes a starting backup refuse.
        with connection.cursor() as cursor:
            cursor.execute("SELECT IS_FREE_LOCK(%s)", [_lock_name(alias, "maintenance")])
            return cursor.fetchone()[0] != 1
    try:  # SQLite (one machine): a non-blocking try, held for microseconds
        with _acquire(alias, 0):
            return False
    except MaintenanceBusy:
        return True


@contextlib.contextmanager
def single_run_lock(job: str, alias: str = "default") -> Iterator[None]:
    """One run of a scheduled job (``archive``, ``cleanup``) at a time, across processes and
    hosts; a second run refuses at once with :class:`MaintenanceBusy`."""
    with _acquire(alias, 0, job, f"Another {job} run is in progress; this one did nothing."):
        yield


def _lock_name(alias: str, job: str) -> str:
    return f"beils:{connections[alias].settings_dict['NAME']}:{job}"[-64:]


def held_lock() -> tuple[str, int] | None:
    """The maintenance lock this thread holds on MariaDB, as (lock name, id of the connection
    holding it), so that a watchdog can check from elsewhere that it is still held."""
    return getattr(_held, "lock", None) if getattr(_held, "depth", 0) else None


@contextlib.contextmanager
def _acquire(alias: str, wait_seconds: int, job: str = "maintenance", busy: str = BUSY) -> Iterator[None]:
    connection = connections[alias]
    name = _lock_name(alias, job)
    if connection.vendor == "mysql":
        with _mariadb_lock(connection, name, wait_seconds, busy) as holder_id:
            if job == "maintenance":
                _held.lock = (name, holder_id)
            try:
                yield
            finally:
                _held.lock = None
        return
    path = Path(settings.VAR_DIR) / "locks" / f"{job}.lock"
    private_dir(path.parent)
    with private_open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MaintenanceBusy(busy) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _mariadb_lock(connection, name: str, wait_seconds: int, busy: str) -> Iterator[int]:
    """GET_LOCK on a connection opened for the lock alone and kept for the whole operation.

    A named lock belongs to the connection that took it. Taken on the working connection, a
    KILL of that connection (or the server dropping it) would free the lock while the
    operation's own subprocesses (mariadb, mariadb-dump) go on, and a second restore could
    start beside the first. Nothing else runs on this connection, so nothing else can lose it."""
    holder = connection.get_new_connection(connection.get_connection_params())
    try:
        cursor = holder.cursor()
        # Idle for as long as the operation lasts: the server must not time it out meanwhile.
        cursor.execute("SET SESSION wait_timeout = 31536000")
        cursor.execute("SELECT GET_LOCK(%s, %s)", [name, wait_seconds])
        if cursor.fetchone()[0] != 1:
            raise MaintenanceBusy(busy)
        try:
            yield holder.thread_id()
        finally:
            with contextlib.suppress(Exception):  # a lost connection has released it already
                cursor.execute("SELECT RELEASE_LOCK(%s)", [name])
    finally:
        with contextlib.suppress(Exception):
            holder.close()
