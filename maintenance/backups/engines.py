"""Database engines behind one small interface: dump to a byte stream, load a stream into a
database, and the few catalogue operations restore needs. PostgreSQL (pg_dump/psql) would be a
third class with the same methods."""

import contextlib
import re
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.db import connections
from django.utils.translation import gettext as _

from beils.lib.private import credentials_file
from maintenance.backups.pipeline import (
    CHUNK,
    DumpInspector,
    DumpStats,
    Pipeline,
    PipelineError,
    _nice_child,
    inspect,
    read_chunks,
    widen,
    without_definers,
)

_CREATE_DEFINER = re.compile(r"^CREATE\s+DEFINER\s*=\s*(?:`(?:[^`]|``)*`|\S+)@(?:`(?:[^`]|``)*`|\S+)\s+", re.I)


class Engine:
    vendor: str
    suffix: str  # of the uncompressed dump

    def __init__(self, alias: str = "default"):
        self.alias = alias
        self.settings = connections[alias].settings_dict

    @property
    def database(self) -> str:
        return self.settings["NAME"]

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


class ConnectionLost(PipelineError):
    """The working database connection of a restore, or the maintenance lock, went away."""


class Sentinel:
    """Checks, from a connection of its own and from another thread, that the restore's working
    connection still exists and that the maintenance lock is still held where it was taken.

    The load runs in a ``mariadb`` subprocess with its own connection: without this, a KILL of
    the working connection would only be noticed when the load had finished."""

    def __init__(self, alias: str):
        from maintenance.backups.locks import held_lock

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

    def __init__(self, sentinel: Sentinel, pipeline: Pipeline):
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
                raise PipelineError(f"mariadb-dump exited with status {code}: {message}")

    def load(self, source: Iterable[bytes], database: str, *, watch: "Sentinel | None" = None) -> None:
        """Feed SQL into ``database`` with the mariadb client; stops at the first error. With
        ``watch``, the load is stopped (``ConnectionLost``) as soon as the sentinel reports that
        the working connection or the maintenance lock is gone."""
        source = without_definers(source)
        with self.option_file() as options:
            pipeline = Pipeline([self.client_command(options, database)])
            if watch is None:
                pipeline.run(source, lambda chunk: None)
                return
            with _Watchdog(watch, pipeline) as dog:
                try:
                    pipeline.run(source, lambda chunk: None)
                except PipelineError:
                    if dog.reason is None:
                        raise
            if dog.reason is not None:
                raise ConnectionLost(dog.reason)

    def sentinel(self) -> "Sentinel":
        return Sentinel(self.alias)

    def reconnect_if_lost(self) -> None:
        """After a KILL or a dropped connection, let the next query open a new one."""
        connection = connections[self.alias]
        if connection.connection is not None and not connection.is_usable():
            connection.close()

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
                    f"The table {table} in the backup has other columns than the live one (the schema "
                    "changed since). Restore the whole database instead, or migrate first."
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


class SQLiteEngine(Engine):
    """The embedded default: the online backup API copies a consistent snapshot of the file."""

    vendor = "sqlite"
    suffix = ".sqlite3"

    def server_version(self) -> str:
        return sqlite3.sqlite_version

    @contextlib.contextmanager
    def backup_stream(self, tables: list[str] | None = None):
        if tables:
            raise PipelineError("Partial backups need MariaDB; SQLite backups are always full.")
        with tempfile.TemporaryDirectory(prefix="beils-sqlite-") as directory:
            copy = Path(directory) / "snapshot.sqlite3"
            snapshot(self.database, copy)
            # The snapshot passed PRAGMA integrity_check: complete, as a dump with its trailer.
            figures = DumpStats(tables=sqlite_table_stats(copy), trailer=True)
            with open(copy, "rb") as handle:
                yield read_chunks(handle, CHUNK), lambda: figures

    def tables(self, database: str | None = None) -> list[str]:
        with contextlib.closing(sqlite3.connect(database or self.database)) as db:
            rows = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
            return [row[0] for row in rows]

    def size_bytes(self) -> int:
        return Path(self.database).stat().st_size if Path(self.database).exists() else 0


def snapshot(source: str, destination: Path) -> None:
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise PipelineError("The SQLite snapshot failed its integrity check.")


def sqlite_table_stats(path: Path) -> dict[str, dict]:
    """Per table: rows and a SHA-256 over the rows in rowid order."""
    import hashlib

    stats = {}
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = [
            r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        ]
        for name in sorted(names):
            digest, rows = hashlib.sha256(), 0
            for row in db.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):  # noqa: S608
                digest.update(repr(row).encode())
                rows += 1
            stats[name] = {"rows": rows, "sha256": digest.hexdigest()}
    return stats


# MariaDB's option-file parser (mysys/my_default.c) cuts a value at the first '#' outside quotes,
# strips surrounding spaces, and inside a quoted value reads these backslash escapes.
_OPTION_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b"}


def option_value(value: str) -> str:
    """``value`` as an option file must hold it to read it back exactly: double-quoted, with
    backslash escapes, so that '#', ';', '=', quotes and surrounding spaces survive."""
    return '"' + "".join(_OPTION_ESCAPES.get(char, char) for char in str(value)) + '"'


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def engine_for(alias: str = "default") -> Engine:
    vendor = connections[alias].vendor
    if vendor == "mysql":
        return MariaDBEngine(alias)
    if vendor == "sqlite":
        return SQLiteEngine(alias)
    raise PipelineError(f"No backup engine for {vendor} yet.")
