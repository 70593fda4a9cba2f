"""MariaDB (and MySQL): ``mariadb-dump`` writes the backup, the ``mariadb`` client loads it back
into a scratch database, which replaces the live tables in one atomic RENAME TABLE. PostgreSQL
(pg_dump/psql) would be a third class with the same methods."""

import contextlib
import functools
import logging
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.db import DatabaseError, connections
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_log
from backups.engines.base import (
    CheckFailed,
    Engine,
    LockBusy,
    Sizes,
    Source,
    held_lock,
    scratch_alias,
    tables_compare,
)
from backups.pipeline import (
    DumpInspector,
    DumpStats,
    ParallelLoad,
    Pipeline,
    PipelineError,
    _nice_child,
    filter_tables,
    inspect,
    read_chunks,
    widen,
    without_definers,
)
from beils.lib.private import credentials_file

log = logging.getLogger(__name__)

_CREATE_DEFINER = re.compile(r"^CREATE\s+DEFINER\s*=\s*(?:`(?:[^`]|``)*`|\S+)@(?:`(?:[^`]|``)*`|\S+)\s+", re.I)


class ConnectionLost(PipelineError):
    """The working database connection of a restore, or the maintenance lock, went away."""


class Sentinel:
    """Checks, from a connection of its own and from another thread, that the restore's working
    connection still exists and that the maintenance lock is still held where it was taken.

    The load runs in a ``mariadb`` subprocess with its own connection: without this, a KILL of
    the working connection would only be noticed when the load had finished."""

    def __init__(self, alias: str):
        working = connections[alias]
        working.ensure_connection()
        self.working_id = working.connection.thread_id()
        self.params = working.get_connection_params()
        self.new_connection = working.get_new_connection
        self.lock = held_lock()
        self._db = None

    def __call__(self) -> str | None:
        """None while all is well, else what went wrong."""
        try:
            if self._db is None:
                self._db = self.new_connection(self.params)
            cursor = self._db.cursor()
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", [self.working_id])
            if not cursor.fetchone()[0]:
                return _("The database connection of this operation was lost (killed, or dropped by the server).")
            if self.lock is not None:
                cursor.execute("SELECT IS_USED_LOCK(%s)", [self.lock[0]])
                if cursor.fetchone()[0] != self.lock[1]:
                    return _("The maintenance lock was lost (its database connection was killed or dropped).")
        except Exception as exc:  # noqa: BLE001 (any failure to look means the server is out of reach)
            return _("The database server could not be reached: %(error)s") % {"error": exc}
        return None

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()


class _Watchdog:
    """Runs a sentinel every WATCH_SECONDS while a pipeline runs; kills the pipeline when it
    reports a problem (again on every tick, in case the pipeline's processes started later)."""

    def __init__(self, sentinel: Sentinel, pipeline: "Pipeline | ParallelLoad"):
        self.sentinel, self.pipeline, self.reason = sentinel, pipeline, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            if self.reason is None:
                self.reason = self.sentinel()
            if self.reason is not None:
                self.pipeline.kill()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self.sentinel.close()


#: How often a restore's load checks its working connection and its lock.
WATCH_SECONDS = 0.5


class MariaDBEngine(Engine):
    vendor = "mariadb"
    suffix = ".sql"
    restore_target = "mariadb DATABASE"
    partial_backups = True

    DUMP_OPTIONS = [
        "--single-transaction",  # a consistent snapshot without locking the salon out
        "--quick",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--default-character-set=utf8mb4",
        "--order-by-primary",
        "--skip-dump-date",  # the trailer still says "Dump completed"; the date is in the manifest
        "--no-tablespaces",
    ]

    @contextlib.contextmanager
    def option_file(self) -> Iterator[str]:
        """Credentials in a 0600 file that only this process can read, never on a command line
        (beils.lib.private.credentials_file: under VAR_DIR/credentials, removed after use)."""
        s = self.settings
        lines = ["[client]", f"user={option_value(s.get('USER') or 'root')}"]
        if s.get("PASSWORD"):
            lines.append(f"password={option_value(s['PASSWORD'])}")
        host = s.get("HOST") or "localhost"
        if host.startswith("/"):
            lines.append(f"socket={option_value(host)}")
        else:
            lines.append(f"host={option_value(host)}")
            if s.get("PORT"):
                lines.append(f"port={s['PORT']}")
        with credentials_file("\n".join(lines) + "\n") as path:
            yield str(path)

    def server_version(self) -> str:
        with connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            return cursor.fetchone()[0]

    def dump_command(self, option_file: str, database: str, tables: list[str] | None = None) -> list[str]:
        return ["mariadb-dump", f"--defaults-extra-file={option_file}", *self.DUMP_OPTIONS, database, *(tables or [])]

    def client_command(self, option_file: str, database: str) -> list[str]:
        return ["mariadb", f"--defaults-extra-file={option_file}", "--default-character-set=utf8mb4", database]

    @contextlib.contextmanager
    def dump(
        self, tables: list[str] | None = None, database: str | None = None, extra: list[str] | None = None
    ) -> Iterator[Iterator[bytes]]:
        """The dump as a stream of chunks; raises PipelineError if mariadb-dump fails."""
        with self.option_file() as options:
            command = self.dump_command(options, database or self.database, tables)
            yield self._dump_stream([*command[:2], *(extra or []), *command[2:]])

    @contextlib.contextmanager
    def backup_stream(self, tables: list[str] | None = None):
        inspector = DumpInspector()
        with self.dump(tables, extra=self.binlog_options()) as stream:
            yield inspect(stream, inspector), inspector.close

    def binlog_options(self) -> list[str]:
        """With BACKUP_BINLOG_POSITION and the binary log on, the dump records the log position
        of its snapshot (as a comment), from which ``mariadb-binlog`` replays later changes:
        point-in-time recovery. It needs the RELOAD privilege (a brief FLUSH TABLES WITH READ LOCK)."""
        from django.conf import settings

        if not settings.BACKUP_BINLOG_POSITION:
            return []
        log_bin = self.execute("SELECT @@log_bin")[0][0]
        return ["--master-data=2", "--gtid"] if int(log_bin) else []

    def _dump_stream(self, command: list[str]) -> Iterator[bytes]:
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, preexec_fn=_nice_child)  # noqa: S603
            widen(process.stdout)
            finished = False
            try:
                yield from read_chunks(process.stdout)
                finished = True
            finally:
                if not finished:
                    process.kill()
                process.stdout.close()
                code = process.wait()
            if code != 0:
                errors.seek(0)
                message = errors.read().decode(errors="replace").strip()[-2000:]
                raise PipelineError(
                    _("%(program)s exited with status %(code)s: %(message)s")
                    % {"program": "mariadb-dump", "code": code, "message": message or _("no message")}
                )

    def load(self, source: Iterable[bytes], database: str, *, watch: "Sentinel | None" = None) -> None:
        """Feed SQL into ``database`` with the mariadb client, on BACKUP_RESTORE_WORKERS
        connections at once (one table each; 1: the whole dump on one); stops at the first
        error. With ``watch``, the load is stopped (``ConnectionLost``) as soon as the sentinel
        reports that the working connection or the maintenance lock is gone."""
        from django.conf import settings

        source = without_definers(source)
        with self.option_file() as options, tempfile.TemporaryDirectory(prefix="beils-load-") as spool:
            command = self.client_command(options, database)
            if settings.BACKUP_RESTORE_WORKERS > 1:
                load = ParallelLoad(command, settings.BACKUP_RESTORE_WORKERS, Path(spool))
                run = load.run
            else:
                load = Pipeline([command])
                run = functools.partial(load.run, sink=lambda chunk: None)
            if watch is None:
                run(source)
                return
            with _Watchdog(watch, load) as dog:
                try:
                    run(source)
                except PipelineError:
                    if dog.reason is None:
                        raise
            if dog.reason is not None:
                raise ConnectionLost(dog.reason)

    def sentinel(self) -> "Sentinel":
        return Sentinel(self.alias)

    def inspect(self, database: str, tables: list[str] | None = None) -> DumpStats:
        """Dump ``database`` to nowhere and return its per-table figures."""
        inspector = DumpInspector()
        with self.dump(tables, database=database) as stream:
            for chunk in stream:
                inspector.feed(chunk)
        return inspector.close()

    def execute(self, sql: str, params=None) -> list[tuple]:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    def tables(self, database: str | None = None) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE' "
            "ORDER BY table_name",
            [database or self.database],
        )
        return [row[0] for row in rows]

    def count_rows(self, database: str, table: str) -> int:
        return self.execute(f"SELECT COUNT(*) FROM {quote(database)}.{quote(table)}")[0][0]  # noqa: S608

    def create_database(self, name: str) -> None:
        self.execute(f"CREATE DATABASE {quote(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {quote(name)}")

    def swap_in(self, scratch: str, trash: str) -> None:
        """Make the scratch database's tables the live ones in one atomic RENAME TABLE; the live
        tables move to ``trash``. Foreign keys follow their tables."""
        live = self.database
        moves = [f"{quote(live)}.{quote(t)} TO {quote(trash)}.{quote(t)}" for t in self.tables(live)]
        moves += [f"{quote(scratch)}.{quote(t)} TO {quote(live)}.{quote(t)}" for t in self.tables(scratch)]
        self.create_database(trash)
        # MariaDB refuses to move a table with triggers to another database ("Trigger in wrong
        # schema"): the restored triggers are taken off, the tables swapped, and the triggers made
        # again on the live tables. The live tables' own triggers go with nothing: they are replaced.
        incoming = self.trigger_statements(scratch)
        for database in (live, scratch):
            for (name,) in self._trigger_names(database):
                self.execute(f"DROP TRIGGER {quote(database)}.{quote(name)}")
        self.execute("RENAME TABLE " + ", ".join(moves))
        for statement in incoming:
            self.execute(statement)

    def _trigger_names(self, database: str) -> list[tuple]:
        return self.execute(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s ORDER BY TRIGGER_NAME",
            [database],
        )

    def trigger_statements(self, database: str) -> list[str]:
        """The CREATE TRIGGER statements of ``database``'s triggers, without their DEFINER (made
        again by this account, which may not name another owner) and without a schema, so that
        they apply to the tables of the connection's database."""
        statements = []
        for (name,) in self._trigger_names(database):
            row = self.execute(f"SHOW CREATE TRIGGER {quote(database)}.{quote(name)}")[0]
            statements.append(_CREATE_DEFINER.sub("CREATE ", row[2], count=1))
        return statements

    def copy_tables(self, scratch: str, tables: list[str]) -> None:
        """Replace the rows of ``tables`` with the scratch copies', all in one transaction."""
        live = self.database
        for table in tables:
            if self.columns(scratch, table) != self.columns(live, table):
                raise PipelineError(
                    _(
                        "The table %(table)s in the backup has other columns than the live one (the schema "
                        "changed since). Restore the whole database instead, or migrate first."
                    )
                    % {"table": table}
                )
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            try:
                cursor.execute("START TRANSACTION")
                for table in tables:
                    cursor.execute(f"DELETE FROM {quote(live)}.{quote(table)}")  # noqa: S608
                    source, target = f"{quote(scratch)}.{quote(table)}", f"{quote(live)}.{quote(table)}"
                    cursor.execute(f"INSERT INTO {target} SELECT * FROM {source}")  # noqa: S608
                cursor.execute("COMMIT")
            except Exception:
                cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.execute("SET FOREIGN_KEY_CHECKS = 1")

    def columns(self, database: str, table: str) -> list[tuple]:
        return self.execute(
            "SELECT column_name, column_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position",
            [database, table],
        )

    def size_bytes(self) -> int:
        rows = self.execute(
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = %s",
            [self.database],
        )
        return int(rows[0][0])

    # --- Reading back and restoring -----------------------------------------------------------

    def verify(
        self, source: Source, expected: dict, *, restore_test=False, on_restored=None, exclusive=contextlib.nullcontext
    ) -> None:
        inspector = DumpInspector()
        for chunk in source():
            inspector.feed(chunk)
        _check_dump(inspector.close(), expected)
        if restore_test:
            self._restore_test(source, expected, on_restored, exclusive)

    def _restore_test(self, source: Source, expected: dict, on_restored, exclusive) -> None:
        # Under the maintenance lock: no restore is using the scratch databases a killed one left.
        with exclusive():
            self.scratch_leftovers_drop()
            scratch = self._scratch_name("rtest")
            self.create_database(scratch)
            try:
                self.load(source(), scratch, watch=self.sentinel())
                for table, figures in expected.items():
                    if self.count_rows(scratch, table) != figures["rows"]:
                        raise CheckFailed(
                            _("Restored table %(table)s has %(found)s rows, expected %(expected)s.")
                            % {"table": table, "found": self.count_rows(scratch, table), "expected": figures["rows"]}
                        )
                tables_compare(expected, self.inspect(scratch, list(expected)).tables, _("the restored database"))
                if on_restored is not None:
                    with scratch_alias(self.alias, scratch) as scratch_db:
                        on_restored(scratch_db)
            except DatabaseError as exc:
                raise ConnectionLost(connection_failed(exc)) from exc
            finally:
                self._scratch_drop(scratch)

    def restore(self, source: Source, expected: dict, tables: list[str], *, before_swap: Callable[[], None]) -> None:
        scratch = self._scratch_name("restore")
        self.create_database(scratch)
        try:
            inspector = DumpInspector()
            stream = inspect(source(), inspector)
            self.load(filter_tables(stream, set(tables)) if tables else stream, scratch, watch=self.sentinel())
            _check_dump(inspector.close(), expected)
            for table in tables or expected:
                if self.count_rows(scratch, table) != expected[table]["rows"]:
                    raise CheckFailed(
                        _("Table %(table)s came back with %(found)s rows instead of %(expected)s.")
                        % {
                            "table": table,
                            "found": self.count_rows(scratch, table),
                            "expected": expected[table]["rows"],
                        }
                    )
            before_swap()
            if tables:
                self.copy_tables(scratch, tables)
            else:
                trash = self._scratch_name("replaced")
                self.swap_in(scratch, trash)
                self.drop_database(trash)
        except DatabaseError as exc:
            raise ConnectionLost(connection_failed(exc)) from exc
        finally:
            self._scratch_drop(scratch)

    def _scratch_name(self, purpose: str) -> str:
        return f"{self.database}_{purpose}_{timezone.now():%Y%m%d%H%M%S%f}"[-64:]

    def scratch_leftovers_drop(self) -> list[str]:
        """Drop the scratch databases that a killed restore, restore test or drill left behind (a
        full copy of personal data each). Call it only under the maintenance lock, when no restore
        can be using them. Only this live database's: ``<live>_<purpose>_<20 digits>`` exactly, so
        the scratch copies of other databases on the same server are never touched."""
        pattern = re.compile(rf"{re.escape(self.database)}_(?:{'|'.join(SCRATCH_PURPOSES)})_\d{{20}}")
        leftovers = [name for (name,) in self.execute("SHOW DATABASES") if pattern.fullmatch(name)]
        for name in leftovers:
            self.drop_database(name)
        if leftovers:
            audit_log(action="maintenance.backup.scratch_dropped", detail={"databases": leftovers})
        return leftovers

    def _scratch_drop(self, name: str) -> None:
        """Drop a scratch database on the way out, whatever happened: on a new connection if the
        working one was lost. If even that fails, the next restore drops it."""
        try:
            self.reconnect_if_lost()
            self.drop_database(name)
        except DatabaseError:
            log.warning("Could not drop the scratch database %s; the next restore will.", name, exc_info=True)

    # --- Locks ----------------------------------------------------------------------------------

    def lock_name(self, job: str) -> str:
        return f"beils:{self.database}:{job}"[-64:]

    @contextlib.contextmanager
    def lock(self, job: str, wait_seconds: int) -> Iterator[tuple[str, int]]:
        """GET_LOCK on a connection opened for the lock alone and kept for the whole operation;
        yields the lock's name and that connection's id. Works across every process and host
        using the database.

        A named lock belongs to the connection that took it. Taken on the working connection, a
        KILL of that connection (or the server dropping it) would free the lock while the
        operation's own subprocesses (mariadb, mariadb-dump) go on, and a second restore could
        start beside the first. Nothing else runs on this connection, so nothing else can lose it."""
        connection, name = connections[self.alias], self.lock_name(job)
        holder = connection.get_new_connection(connection.get_connection_params())
        try:
            cursor = holder.cursor()
            # Idle for as long as the operation lasts: the server must not time it out meanwhile.
            cursor.execute("SET SESSION wait_timeout = 31536000")
            cursor.execute("SELECT GET_LOCK(%s, %s)", [name, wait_seconds])
            if cursor.fetchone()[0] != 1:
                raise LockBusy(job)
            try:
                yield name, holder.thread_id()
            finally:
                with contextlib.suppress(Exception):  # a lost connection has released it already
                    cursor.execute("SELECT RELEASE_LOCK(%s)", [name])
        finally:
            with contextlib.suppress(Exception):
                holder.close()

    def lock_in_use(self, job: str) -> bool:
        # IS_FREE_LOCK looks without taking: a page view never makes a starting backup refuse.
        with connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT IS_FREE_LOCK(%s)", [self.lock_name(job)])
            return cursor.fetchone()[0] != 1

    # --- Measuring and optimising -----------------------------------------------------------

    def table_sizes(self) -> Sizes:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(
                "SELECT table_name, data_length, index_length, data_free FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
            )
            return {name: (data, index, free) for name, data, index, free in cursor.fetchall()}

    def data_directory(self) -> Path | None:
        datadir = Path(self.execute("SELECT @@datadir")[0][0])
        return datadir if datadir.exists() else None

    def fragmented_tables(self, *, min_free_bytes: int, limit: int) -> list[dict]:
        rows = self.execute(
            "SELECT table_name, data_length + index_length, data_free FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND data_free >= %s AND data_free > 0 "
            "ORDER BY data_free DESC LIMIT %s",
            [min_free_bytes, limit],
        )
        return [{"table": name, "bytes": size, "free_bytes": free} for name, size, free in rows]

    def optimise(self, tables: list[str]) -> dict[str, str]:
        """OPTIMIZE TABLE: InnoDB rebuilds the table and its indexes."""
        results = {}
        with connections[self.alias].cursor() as cursor:
            for table in tables:
                cursor.execute(f"OPTIMIZE TABLE {quote(table)}")
                # InnoDB answers "note: … doing recreate + analyze instead" and then "status: OK".
                messages = [(kind, text) for _, _, kind, text in cursor.fetchall()]
                errors = [text for kind, text in messages if kind.lower() == "error"]
                results[table] = f"error: {'; '.join(errors)}" if errors else (messages[-1][1] if messages else "OK")
        return results


#: The scratch databases a restore makes beside the live one: ``<live>_<purpose>_<20 digits>``.
SCRATCH_PURPOSES = ("restore", "rtest", "replaced")


def _check_dump(stats: DumpStats, expected: dict) -> None:
    if not stats.trailer:
        raise CheckFailed(_("The dump inside the file has no completion trailer: it is incomplete."))
    tables_compare(expected, stats.tables, _("the file"))


def connection_failed(exc: BaseException) -> str:
    return _("The database connection failed during the operation: %(error)s") % {"error": exc}


# MariaDB's option-file parser (mysys/my_default.c) cuts a value at the first '#' outside quotes,
# strips surrounding spaces, and inside a quoted value reads these backslash escapes.
_OPTION_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b"}


def option_value(value: str) -> str:
    """``value`` as an option file must hold it to read it back exactly: double-quoted, with
    backslash escapes, so that '#', ';', '=', quotes and surrounding spaces survive."""
    return '"' + "".join(_OPTION_ESCAPES.get(char, char) for char in str(value)) + '"'


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"
