"""The embedded default: SQLite. A backup is a consistent snapshot of the file (the online
backup API); a restore puts a checked copy of the file in place."""

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _

from backups.engines.base import Engine, LockBusy, Sizes, Source, scratch_alias, tables_compare
from backups.pipeline import CHUNK, DumpStats, PipelineError, read_chunks
from beils.lib.private import private_dir, private_open


class SQLiteEngine(Engine):
    """The embedded default: the online backup API copies a consistent snapshot of the file."""

    vendor = "sqlite"
    suffix = ".sqlite3"
    restore_target = "cat > beils.sqlite3"

    def server_version(self) -> str:
        return sqlite3.sqlite_version

    @contextlib.contextmanager
    def backup_stream(self, tables: list[str] | None = None):
        if tables:
            raise PipelineError(_("Partial backups need MariaDB; SQLite backups are always full."))
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

    # --- Reading back and restoring -----------------------------------------------------------

    def load(self, source: Iterable[bytes], database: str) -> None:
        """Write the backup's bytes as the SQLite file ``database`` (private: it may become the
        live database)."""
        with private_open(Path(database), "wb") as out:
            for chunk in source:
                out.write(chunk)

    def verify(
        self, source: Source, expected: dict, *, restore_test=False, on_restored=None, exclusive=contextlib.nullcontext
    ) -> None:
        # Reading an SQLite backup back is restoring it: restore_test adds nothing.
        with tempfile.TemporaryDirectory(prefix="beils-verify-") as scratch:
            copy = Path(scratch) / "restored.sqlite3"
            self.load(source(), str(copy))
            tables_compare(expected, sqlite_table_stats(copy), _("the restored copy"))
            if on_restored is not None:
                with scratch_alias(self.alias, str(copy)) as scratch_db:
                    on_restored(scratch_db)

    def restore(self, source: Source, expected: dict, tables: list[str], *, before_swap: Callable[[], None]) -> None:
        live = Path(self.database)
        with tempfile.TemporaryDirectory(prefix="beils-restore-", dir=live.parent) as scratch:
            copy = Path(scratch) / "restored.sqlite3"
            self.load(source(), str(copy))
            tables_compare(expected, sqlite_table_stats(copy), _("the restored copy"))
            before_swap()
            connections[self.alias].close()
            if not tables:
                for suffix in ("-wal", "-shm"):
                    Path(f"{live}{suffix}").unlink(missing_ok=True)
                os.replace(copy, live)
                return
            _copy_tables(live, copy, tables)

    # --- Locks ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, job: str, wait_seconds: int) -> Iterator[None]:
        """A file lock: SQLite lives on one machine. It never waits."""
        path = Path(settings.VAR_DIR) / "locks" / f"{job}.lock"
        private_dir(path.parent)
        with private_open(path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockBusy(job) from None
            try:
                yield None
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- Measuring and optimising -----------------------------------------------------------

    def table_sizes(self) -> Sizes:
        """From SQLite's ``dbstat`` table when the library has it (Debian's does): pages of each
        table and of its indexes; free space is only known for the whole file."""
        with connections[self.alias].cursor() as cursor:
            try:
                cursor.execute(
                    "SELECT m.tbl_name, SUM(CASE WHEN m.type = 'table' THEN s.pgsize ELSE 0 END), "
                    "SUM(CASE WHEN m.type = 'index' THEN s.pgsize ELSE 0 END) "
                    "FROM dbstat s JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name"
                )
            except Exception:  # noqa: BLE001 - built without SQLITE_ENABLE_DBSTAT_VTAB
                return {}
            return {name: (data, index, None) for name, data, index in cursor.fetchall()}

    def database_bytes(self, table_bytes: list[int | None]) -> int | None:
        path = Path(self.database)
        return path.stat().st_size if path.exists() else None

    def data_directory(self) -> Path | None:
        return Path(self.database).resolve().parent

    def fragmented_tables(self, *, min_free_bytes: int, limit: int) -> list[dict]:
        """Free pages belong to the file, so the answer is one entry named ``*``."""
        with connections[self.alias].cursor() as cursor:
            cursor.execute("PRAGMA freelist_count")
            free_pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            free = free_pages * cursor.fetchone()[0]
        return [{"table": "*", "bytes": None, "free_bytes": free}] if free >= min_free_bytes and free else []

    def optimise(self, tables: list[str]) -> dict[str, str]:
        """VACUUM: the whole file (SQLite has no per-table form)."""
        # VACUUM cannot run inside a transaction: Django's autocommit gives it its own.
        with connections[self.alias].cursor() as cursor:
            cursor.execute("VACUUM")
        return {"*": "vacuumed"}


def _copy_tables(live: Path, copy: Path, tables: list[str]) -> None:
    """Replace the rows of ``tables`` in ``live`` with those of ``copy``, in one transaction."""
    with sqlite3.connect(live, isolation_level=None) as db:
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("ATTACH DATABASE ? AS backup", [str(copy)])
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in tables:
                db.execute(f'DELETE FROM main."{table}"')  # noqa: S608
                db.execute(f'INSERT INTO main."{table}" SELECT * FROM backup."{table}"')  # noqa: S608
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
        finally:
            db.execute("DETACH DATABASE backup")


def snapshot(source: str, destination: Path) -> None:
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise PipelineError(_("The SQLite snapshot failed its integrity check."))


def sqlite_table_stats(path: Path) -> dict[str, dict]:
    """Per table: rows and a SHA-256 over the rows in rowid order."""
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
