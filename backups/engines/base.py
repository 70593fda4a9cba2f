"""What every database engine offers the backups and the maintenance pages: dump to a byte
stream, read a dump back and check it, restore it, lock, measure and optimise. The services
ask ``engine_for(alias)`` for the engine and never branch on the vendor themselves."""

import contextlib
import copy
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.db import connections
from django.db.utils import load_backend
from django.utils.translation import gettext as _

from backups.pipeline import DumpStats, PipelineError

#: The maintenance lock this thread holds: ``depth`` (re-entries) and, on MariaDB, ``lock``, the
#: lock's name and the id of the connection holding it. Kept by ``backups.locks``; read by the
#: restore's watchdog, which checks from elsewhere that the lock is still held.
HELD = threading.local()


def held_lock() -> tuple[str, int] | None:
    """The maintenance lock this thread holds on MariaDB, as (lock name, connection id)."""
    return getattr(HELD, "lock", None) if getattr(HELD, "depth", 0) else None


#: The decompressed bytes of a backup file, read afresh at every call (a restore test of a
#: MariaDB dump reads the file twice: once to check it, once to load it).
Source = Callable[[], Iterable[bytes]]

#: A table's (data bytes, index bytes, free bytes inside it); None where the engine cannot tell.
Sizes = dict[str, tuple[int | None, int | None, int | None]]


class CheckFailed(PipelineError):
    """What was read back or restored does not match the backup's manifest."""


class LockBusy(Exception):
    """The named lock is held elsewhere."""


class Engine:
    vendor: str
    suffix: str  # of the uncompressed dump
    #: What the manifest's standard-tools instructions pipe the decompressed dump into.
    restore_target: str
    #: Whether a backup can hold only some tables.
    partial_backups = False

    def __init__(self, alias: str = "default"):
        self.alias = alias
        self.settings = connections[alias].settings_dict

    @property
    def database(self) -> str:
        return self.settings["NAME"]

    # --- Backing up ---------------------------------------------------------------------------

    def server_version(self) -> str:
        raise NotImplementedError

    def backup_stream(
        self, tables: list[str] | None = None
    ) -> contextlib.AbstractContextManager[tuple[Iterable[bytes], Callable[[], DumpStats]]]:
        """The backup's bytes, and a function giving its figures (per-table rows and checksums,
        and whether it is complete) once the bytes have been read."""
        raise NotImplementedError

    def tables(self, database: str | None = None) -> list[str]:
        raise NotImplementedError

    def size_bytes(self) -> int:
        raise NotImplementedError

    # --- Reading back and restoring -----------------------------------------------------------

    def verify(
        self,
        source: Source,
        expected: dict,
        *,
        restore_test: bool = False,
        on_restored: Callable[[str], None] | None = None,
        exclusive: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ) -> None:
        """Check a backup's contents against ``expected`` (the manifest's per-table figures);
        with ``restore_test``, load them into a scratch database and check that too, inside
        ``exclusive()`` (the caller's maintenance lock: no restore uses the scratch databases).
        ``on_restored(alias)`` runs while a restored copy exists, with an alias that reads it.
        Raises PipelineError (CheckFailed, ConnectionLost…) on the first problem."""
        raise NotImplementedError

    def restore(self, source: Source, expected: dict, tables: list[str], *, before_swap: Callable[[], None]) -> None:
        """Restore the whole backup, or only ``tables``, over the live database: loaded and
        checked aside first, then ``before_swap()``, then put in place in one step; on any
        failure the live data is left as it was."""
        raise NotImplementedError

    def scratch_leftovers_drop(self) -> list[str]:
        """Remove the scratch copies that killed restores left behind; return their names."""
        return []

    def reconnect_if_lost(self) -> None:
        """After a KILL or a dropped connection, let the next query open a new one."""
        connection = connections[self.alias]
        if connection.connection is not None and not connection.is_usable():
            connection.close()

    # --- Locks ----------------------------------------------------------------------------------

    def lock(self, job: str, wait_seconds: int) -> contextlib.AbstractContextManager[tuple[str, int] | None]:
        """Hold the named lock ``job`` for this database, across processes; raises LockBusy.
        Yields (lock name, id of the connection holding it) where a server holds it, so that a
        watchdog can check from elsewhere that it is still held; else None."""
        raise NotImplementedError

    def lock_in_use(self, job: str) -> bool:
        """Whether someone holds the lock ``job`` now (a hint: it may change at once)."""
        try:
            with self.lock(job, 0):
                return False
        except LockBusy:
            return True

    # --- Measuring and optimising -----------------------------------------------------------

    def table_sizes(self) -> Sizes:
        raise NotImplementedError

    def database_bytes(self, table_bytes: list[int | None]) -> int | None:
        """The database's size, given each table's measured size (data and indexes)."""
        sizes = [size for size in table_bytes if size is not None]
        return sum(sizes) if sizes else None

    def data_directory(self) -> Path | None:
        """Where the database's files are, when this process can see them."""
        raise NotImplementedError

    def fragmented_tables(self, *, min_free_bytes: int, limit: int) -> list[dict]:
        """The tables with the most free space inside them, most first: ``{table, bytes, free_bytes}``."""
        raise NotImplementedError

    def optimise(self, tables: list[str]) -> dict[str, str]:
        """Give ``tables`` their free space back; return ``{table: what the server said}``
        (a message starting with ``error`` for a table that failed)."""
        raise NotImplementedError


def tables_compare(expected: dict, actual: dict, where: str) -> None:
    """Every table of the manifest is in ``actual`` with the same rows (and data checksum)."""
    for table, figures in expected.items():
        found = actual.get(table)
        facts = {"table": table, "where": where, "found": found and found["rows"], "expected": figures["rows"]}
        if found is None:
            raise CheckFailed(_("Table %(table)s is missing from %(where)s.") % facts)
        if found["rows"] != figures["rows"]:
            raise CheckFailed(
                _("Table %(table)s: %(found)s rows in %(where)s, the manifest says %(expected)s.") % facts
            )
        if figures.get("sha256") and found.get("sha256") and found["sha256"] != figures["sha256"]:
            raise CheckFailed(
                _("Table %(table)s: its data in %(where)s does not match the manifest's checksum.") % facts
            )


@contextlib.contextmanager
def scratch_alias(alias: str, name: str) -> Iterator[str]:
    """A temporary Django database alias, in this thread only, for the database (or SQLite
    file) ``name``, configured like ``alias`` otherwise; closed and forgotten on the way out."""
    scratch = f"scratch_{uuid.uuid4().hex[:8]}"
    settings_dict = {**copy.deepcopy(connections[alias].settings_dict), "NAME": name}
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, scratch)
    connections[scratch] = wrapper
    try:
        yield scratch
    finally:
        wrapper.close()
        del connections[scratch]
