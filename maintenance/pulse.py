"""Signs of life of long work (a backup, an import or export job): ``heartbeat_at`` on its row,
written as the work progresses, read by the stale-work check (maintenance/reaper.py).

A killed process cannot mark its own row failed; a heartbeat that stops is how the check knows.
"""

import contextlib
import copy
import logging
import threading
import time
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.utils import load_backend
from django.utils import timezone

log = logging.getLogger(__name__)


class Pulse:
    """Call it as often as you like while the work progresses: it writes the row's
    ``heartbeat_at`` at most every WORK_HEARTBEAT_SECONDS, so that it never slows the work."""

    def __init__(self, instance, *, using: str = DEFAULT_DB_ALIAS, every: float | None = None):
        self.model, self.pk, self.using = type(instance), instance.pk, using
        self.every = settings.WORK_HEARTBEAT_SECONDS if every is None else every
        self.last = time.monotonic()  # the work wrote its first sign of life as it started

    def __call__(self) -> None:
        if self.pk is None or time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        try:
            self._write(timezone.now())
        except DatabaseError:  # a missed beat is harmless; failing the work over it is not
            log.warning("Could not record a sign of life for %s %s", self.model.__name__, self.pk, exc_info=True)

    def _write(self, now) -> None:
        connection = connections[self.using]
        if not connection.in_atomic_block:
            self.model.objects.using(self.using).filter(pk=self.pk).update(heartbeat_at=now)
            return
        # Inside the work's transaction (an import writes all or nothing) an update would stay
        # invisible until the end: write it on a connection of its own. SQLite allows one
        # writer at a time, so there the beat waits for the end of the transaction (and the
        # stale-work check also looks at the job's progress file).
        if connection.vendor == "sqlite":
            return
        alias = f"pulse_{uuid.uuid4().hex[:8]}"
        settings_dict = copy.deepcopy(connection.settings_dict)
        connections[alias] = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
        try:
            with connections[alias].cursor() as cursor:
                # Never wait on a row lock (an outer transaction holding the row): skip the beat.
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
            self.model.objects.using(alias).filter(pk=self.pk).update(heartbeat_at=now)
        finally:
            connections[alias].close()
            del connections[alias]


@contextlib.contextmanager
def beating(instance, *, every: float | None = None) -> Iterator[None]:
    """Beat for ``instance`` from a thread of its own, every WORK_HEARTBEAT_SECONDS, for as long
    as the block runs in this process: for work that has no natural place to call a Pulse (a
    restore drill waits on its load for minutes). A killed process stops beating with it."""
    every = settings.WORK_HEARTBEAT_SECONDS if every is None else every
    model, pk, stop = type(instance), instance.pk, threading.Event()

    def beat() -> None:
        try:
            if connections[DEFAULT_DB_ALIAS].vendor == "mysql":
                with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                    # Never wait on a row lock (the row still uncommitted elsewhere): skip the beat.
                    cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
            while not stop.wait(every):
                try:
                    model.objects.filter(pk=pk).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    log.warning("Could not record a sign of life for %s %s", model.__name__, pk, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections

    thread = threading.Thread(target=beat, name=f"beat-{model.__name__}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
