"""Backups: create, verify, restore. Every entry point (command, admin, API, Celery) calls these.

The rules they keep:
- a backup is written to a hidden temporary name and renamed only when every stage exited
  cleanly and the dump's completion trailer came through; a failed or killed backup leaves no
  file that looks good and never touches an older one;
- nothing is restored from a file that has not just passed its checks, a safety backup is taken
  first, and the restore happens in a scratch database that replaces the live tables in one
  atomic step (or, for a few tables, in one transaction), so a failure leaves the live data as
  it was.
"""

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import mail_admins
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.recorder import MigrationRecorder
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.chain import AuditTrailError, audit_entries_put_back, audit_entries_read
from audit.models import Outcome
from audit.services import audit_log
from beils.lib.private import private_dir, private_open, write_private_text
from maintenance.backups import crypto, signing
from maintenance.backups.engines import MariaDBEngine, SQLiteEngine, engine_for, sqlite_table_stats
from maintenance.backups.locks import maintenance_lock
from maintenance.backups.pipeline import (
    DumpInspector,
    Pipeline,
    PipelineError,
    compressor,
    decompressor,
    filter_tables,
    inspect,
    read_chunks,
)
from maintenance.models import Backup, BackupKind, BackupStatus
from maintenance.pulse import Pulse

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1

# Sent after any restore, before the application serves again (e.g. to re-apply GDPR erasures).
backup_restored = Signal()


class BackupError(Exception):
    """A backup operation was refused or failed; the message says why and what to do."""


# --- Create ---------------------------------------------------------------------------------


def backup_create(
    *,
    kind: str = BackupKind.MANUAL,
    tables: list[str] | None = None,
    actor=None,
    alias: str = DEFAULT_DB_ALIAS,
    progress: Callable[[int, int], None] | None = None,
) -> Backup:
    """Write a new backup file and its manifest; return the catalogue row (status SUCCESS).
    ``progress(bytes_written, bytes_expected)`` is called as the file grows (the expected size
    is an estimate from the previous backup)."""
    if tables and isinstance(engine_for(alias), SQLiteEngine):
        # Refused before the catalogue row is written: bad input writes nothing.
        raise BackupError("Partial backups (--tables) need MariaDB; SQLite backups are always full.")
    with maintenance_lock(alias):
        return _create(kind=kind, tables=tables or [], actor=actor, alias=alias, progress=progress)


def _create(*, kind, tables, actor, alias, progress=None) -> Backup:
    engine = engine_for(alias)
    directory = backup_dir()
    started = timezone.now()
    catalogued = _catalogue_exists(alias)
    name = _file_name(engine, started, encrypted=crypto.enabled(), catalogued=catalogued)
    backup = Backup(
        file_name=name, kind=kind, engine=engine.vendor, database=Path(engine.database).name, started_at=started,
        heartbeat_at=started,
        compression="gzip", encrypted=crypto.enabled(), tables_requested=tables,
        created_by=actor if getattr(actor, "pk", None) else None,
    )  # fmt: skip
    if catalogued:
        backup.save(using=alias)
    partial = partial_path(name)
    pulse = Pulse(backup, using=alias)  # a killed backup stops beating: maintenance/reaper.py
    try:
        expected = _check_free_space(engine, directory, catalogued=catalogued)
        backup.server_version = engine.server_version()
        backup.migrations = migration_state(alias)
        stages = [compressor(settings.BACKUP_COMPRESSION_LEVEL)]
        if backup.encrypted:
            stages.append(crypto.encrypt_stage())
        digest, size = hashlib.sha256(), 0
        with private_open(partial, "wb") as out, engine.backup_stream(tables) as (stream, stats):

            def sink(chunk: bytes) -> None:
                nonlocal size
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                pulse()
                if progress is not None:
                    progress(size, expected)

            Pipeline(stages).run(stream, sink)
            figures = stats()
            if not figures.trailer:
                raise PipelineError("The dump ended without its completion trailer: it is incomplete.")
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, directory / name)
        fsync_dir(directory)
        backup.size_bytes, backup.sha256, backup.tables = size, digest.hexdigest(), figures.tables
        backup.binlog = getattr(figures, "binlog", None)
        backup.status, backup.finished_at = BackupStatus.SUCCESS, timezone.now()
        backup.storage = [{"kind": "local", "path": str(directory / name)}]
        write_manifest(backup, directory)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        backup.status, backup.finished_at, backup.error = BackupStatus.FAILED, timezone.now(), str(exc)
        if catalogued:
            backup.save(using=alias)
        report_failure("backup", backup, exc, actor)
        raise BackupError(f"The backup failed and was discarded: {exc}") from exc
    if catalogued:
        backup.save(using=alias)
    audit_log(
        action="maintenance.backup.created", actor=actor, target=backup if catalogued else None,
        detail={"file": name, "kind": kind, "size": size, "tables": tables, "rows": backup.row_count},
    )  # fmt: skip
    return backup


def _file_name(engine, when, *, encrypted: bool, catalogued: bool) -> str:
    database = "".join(c if c.isalnum() or c in "-_" else "-" for c in Path(engine.database).stem)
    stem = f"beils_{database}_{timezone.localtime(when):%Y%m%d_%H%M%S}"
    suffix = f"{engine.suffix}.gz" + (crypto.SUFFIX if encrypted else "")
    name, n = f"{stem}{suffix}", 1
    while (backup_dir() / name).exists() or (catalogued and Backup.objects.filter(file_name=name).exists()):
        n += 1
        name = f"{stem}_{n}{suffix}"
    return name


def _check_free_space(engine, directory: Path, *, catalogued: bool) -> None:
    free = shutil.disk_usage(directory).free
    previous = catalogued and Backup.objects.filter(status=BackupStatus.SUCCESS).order_by("-started_at").first()
    # A compressed dump is a fraction of the data; the last backup's size is the best guide.
    expected = (previous.size_bytes if previous else None) or engine.size_bytes() // 3
    needed = max(int(expected * 1.5), settings.BACKUP_MIN_FREE_BYTES)
    if free < needed:
        raise PipelineError(
            f"Not enough free space in {directory}: {free // 2**20} MiB free, about {needed // 2**20} MiB needed. "
            "Free some space or prune old backups (manage.py prunebackups)."
        )
    return expected


def partial_path(file_name: str) -> Path:
    """Where a backup is written until it is complete (a hidden name, renamed at the end)."""
    return backup_dir() / f".{file_name}.partial"


def backup_dir() -> Path:
    return private_dir(settings.BACKUP_DIR)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _catalogue_exists(alias: str) -> bool:
    return Backup._meta.db_table in connections[alias].introspection.table_names()


def migration_state(alias: str) -> dict[str, str]:
    """The last applied migration of every app."""
    recorder = MigrationRecorder(connections[alias])
    if not recorder.has_table():
        return {}
    latest: dict[str, str] = {}
    for app, name in sorted(recorder.applied_migrations()):
        latest[app] = name
    return latest


# --- Manifests: the catalogue beside the files ---------------------------------------------


MANIFEST_FIELDS = [
    "file_name", "kind", "status", "engine", "server_version", "database", "size_bytes", "sha256", "compression",
    "encrypted", "tables_requested", "tables", "migrations", "storage", "binlog", "ledger",
]  # fmt: skip


def write_manifest(backup: Backup, directory: Path) -> Path:
    data = {field: getattr(backup, field) for field in MANIFEST_FIELDS}
    data.update(
        manifest_version=MANIFEST_VERSION,
        started_at=backup.started_at.isoformat(),
        finished_at=backup.finished_at.isoformat() if backup.finished_at else None,
        restore_with=restore_instructions(backup),
    )
    path = directory / f"{backup.file_name}.json"
    temporary = directory / f".{path.name}.partial"
    write_private_text(temporary, json.dumps(signing.sign(data), indent=2, sort_keys=True))
    os.replace(temporary, path)
    return path


def ledger_copy_path(path: Path) -> Path:
    """Where the copy of the erasure ledger that travels with the backup file ``path`` lies."""
    return Path(f"{path}.ledger.jsonl")


def check_ledger_copy(backup: Backup, *, without_ledger: bool = False, actor=None) -> Path | None:
    """The erasure ledger copy beside ``backup``, checked against its signed manifest, or None
    when the backup never had one (it was not copied off-site: the live ledger is the one).
    A backup that had one and comes without it (fetched from off-site, say) is refused: restored,
    it would bring erased people back. ``without_ledger`` is the operator's explicit override."""
    if not backup.ledger:
        return None
    path = ledger_copy_path(backup_path(backup))
    problem = None
    if not path.is_file():
        problem = f"its erasure ledger copy {path.name} is missing"
    elif sha256_of(path) != backup.ledger.get("sha256"):
        problem = f"its erasure ledger copy {path.name} does not match the SHA-256 in the signed manifest"
    if problem is None:
        return path
    audit_log(
        action="maintenance.backup.ledger_missing", actor=actor, outcome=Outcome.FAILURE,
        target=backup if backup.pk else None,
        detail={"file": backup.file_name, "error": problem, "overridden": without_ledger},
    )  # fmt: skip
    if without_ledger:
        return None
    raise BackupError(
        f"{backup.file_name}: {problem}. Restoring it could bring back clients erased since it was taken. "
        "Fetch it again with its ledger, or restore with --without-ledger and replay a ledger by hand "
        "(manage.py gdpr_replay)."
    )


def read_manifest(path: Path) -> dict:
    """The manifest beside the backup file ``path``, as written (unchecked)."""
    return json.loads(Path(f"{path}.json").read_text())


def read_signed_manifest(path: Path) -> dict:
    """The manifest beside ``path``, once its signature is checked; BackupError otherwise."""
    manifest = Path(f"{path}.json")
    try:
        data = json.loads(manifest.read_text())
        signing.verify(data)
    except FileNotFoundError as exc:
        raise BackupError(f"{path.name} has no manifest beside it, so no signature: it cannot be trusted.") from exc
    except (ValueError, signing.SignatureError) as exc:
        raise BackupError(
            f"The manifest of {path.name} fails its signature check ({exc}): the file or its manifest was "
            "altered, or was signed with another key (see BACKUP_SIGNING_KEYS_OLD). Refused."
        ) from exc
    return data


def check_signature(backup: Backup) -> dict:
    """The signed manifest agrees with what is known of ``backup`` (the catalogue row, when
    there is one): the file's checksum is then worth checking against it."""
    path = backup_path(backup)
    data = read_signed_manifest(path)
    for field in ("file_name", "sha256", "size_bytes"):
        if getattr(backup, field) and data.get(field) != getattr(backup, field):
            raise BackupError(
                f"The signed manifest of {path.name} gives another {field} than the catalogue "
                f"({data.get(field)!r}, not {getattr(backup, field)!r}): refused."
            )
    return data


def restore_instructions(backup: Backup) -> str:
    """How to restore the file on a bare server with standard tools alone."""
    target = "mariadb DATABASE" if backup.engine == MariaDBEngine.vendor else "cat > beils.sqlite3"
    if backup.encrypted:
        return f"age -d -i key.txt {backup.file_name} | gunzip | {target}"
    return f"gunzip < {backup.file_name} | {target}"


def catalogue_rescan(alias: str = DEFAULT_DB_ALIAS) -> int:
    """Bring the catalogue in line with the manifests on disk (after a restore replaced it, or
    on a new server). Returns how many rows were added.

    Only signed manifests are admitted, and a checksum the catalogue already holds is never
    replaced: a manifest that disagrees with it is reported (audited), not copied."""
    changed = 0
    for manifest in sorted(backup_dir().glob("*.json")):
        path = manifest.with_suffix("")
        try:
            data = read_signed_manifest(path)
        except BackupError as exc:
            _manifest_refused(manifest, str(exc))
            continue
        if data.get("file_name") != path.name or not path.exists():
            continue
        values = {field: data[field] for field in MANIFEST_FIELDS if field != "file_name" and field in data}
        values.update(started_at=data["started_at"], finished_at=data["finished_at"])
        known = Backup.objects.using(alias).filter(file_name=path.name).first()
        if known is None:
            Backup.objects.using(alias).create(file_name=path.name, **values)
            changed += 1
            continue
        recorded = {
            field: getattr(known, field) for field in ("sha256", "size_bytes", "tables") if getattr(known, field)
        }
        disagree = sorted(field for field, value in recorded.items() if data.get(field) != value)
        if disagree:
            _manifest_refused(manifest, f"its {', '.join(disagree)} differ from the catalogue's; the catalogue is kept")
            continue
        Backup.objects.using(alias).filter(pk=known.pk).update(**values)
    return changed


def _manifest_refused(manifest: Path, reason: str) -> None:
    audit_log(
        action="maintenance.backup.manifest_refused", outcome=Outcome.FAILURE,
        detail={"manifest": manifest.name, "error": reason[:2000]},
    )  # fmt: skip


# --- Reading a backup back ------------------------------------------------------------------


def resolve(id_or_file: str | int, alias: str = DEFAULT_DB_ALIAS) -> Backup:
    """A catalogue row by id or file name, or, when the catalogue does not know it (an empty
    database on a new server, say), one rebuilt from the manifest beside the file. A path
    outside BACKUP_DIR is read where it is."""
    text = str(id_or_file)
    path = Path(text) if os.sep in text else backup_dir() / text
    if _catalogue_exists(alias):
        if text.isdigit() and (backup := Backup.objects.using(alias).filter(pk=int(text)).first()):
            return backup
        if backup := Backup.objects.using(alias).filter(file_name=path.name).first():
            if path.parent.resolve() != backup_dir().resolve():
                backup.location = path
            return backup
    if Path(f"{path}.json").exists():
        data = read_manifest(path)
        backup = Backup(
            **{f: data[f] for f in MANIFEST_FIELDS if f in data},
            started_at=data["started_at"],
            finished_at=data["finished_at"],
        )
        backup.location = path
        return backup
    raise BackupError(
        f"No backup {text!r}: not in the catalogue and no manifest beside it (see manage.py listbackups)."
    )


def backup_path(backup: Backup) -> Path:
    return getattr(backup, "location", None) or backup_dir() / backup.file_name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in read_chunks(handle):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _reading_stages(backup: Backup) -> Iterator[list[list[str]]]:
    with ExitStack() as stack:
        stages = [stack.enter_context(crypto.decrypt_stage())] if backup.encrypted else []
        yield [*stages, decompressor()]


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from read_chunks(handle)


class _Relay:
    """Runs a pipeline (decrypt, decompress) and hands its output on as an iterator, through a
    bounded queue so that memory stays flat."""

    def __init__(self, stages, source):
        import queue
        import threading

        self._queue = queue.Queue(maxsize=8)
        self._error = None

        def work():
            try:
                Pipeline(stages).run(source, self._queue.put)
            except BaseException as exc:
                self._error = exc
            finally:
                self._queue.put(None)

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()

    def __iter__(self):
        while (chunk := self._queue.get()) is not None:
            yield chunk
        self._thread.join()
        if self._error:
            raise self._error


def _check_file(backup: Backup) -> Path:
    path = backup_path(backup)
    if not path.exists():
        raise BackupError(f"The file {path} is missing.")
    check_signature(backup)
    if backup.size_bytes is not None and path.stat().st_size != backup.size_bytes:
        raise BackupError(
            f"{path.name} is {path.stat().st_size} bytes, the catalogue says {backup.size_bytes}: truncated or replaced."
        )
    if backup.sha256 and sha256_of(path) != backup.sha256:
        raise BackupError(f"{path.name} does not match its SHA-256 checksum: the file is corrupted or was altered.")
    return path


# --- Verify -----------------------------------------------------------------------------------


def backup_verify(
    backup: Backup,
    *,
    restore_test: bool = False,
    actor=None,
    alias: str = DEFAULT_DB_ALIAS,
    on_restored: Callable[[str], None] | None = None,
) -> Backup:
    """Checksum, archive integrity, completion trailer and per-table figures against the
    manifest; with ``restore_test``, restore into a scratch database and compare that too.

    ``on_restored(alias)`` runs while the restored copy still exists, with a database alias
    that reads it (the restore drill checks the invoice chain there); raising ``BackupError``
    in it fails the verification."""
    try:
        path = _check_file(backup)
        with _reading_stages(backup) as stages:
            if backup.engine == MariaDBEngine.vendor:
                figures = DumpInspector()
                for chunk in _Relay(stages, _file_chunks(path)):
                    figures.feed(chunk)
                stats = figures.close()
                if not stats.trailer:
                    raise BackupError("The dump inside the file has no completion trailer: it is incomplete.")
                _compare(backup.tables, stats.tables, "the file")
                if restore_test:
                    _restore_test_mariadb(backup, stages, path, alias, on_restored)
            else:
                with tempfile.TemporaryDirectory(prefix="beils-verify-") as scratch:
                    copy = Path(scratch) / "restored.sqlite3"
                    _decompress_to(stages, path, copy)
                    _compare(backup.tables, sqlite_table_stats(copy), "the restored copy")
                    if on_restored is not None:
                        with scratch_alias(alias, str(copy)) as scratch_db:
                            on_restored(scratch_db)
    except (BackupError, PipelineError, OSError) as exc:
        reconnect_if_lost(alias)
        _record_verification(backup, ok=False, restore_test=restore_test, alias=alias)
        report_failure("verification", backup, exc, actor)
        raise BackupError(f"{backup.file_name} failed verification: {exc}") from exc
    _record_verification(backup, ok=True, restore_test=restore_test, alias=alias)
    audit_log(
        action="maintenance.backup.restore_tested" if restore_test else "maintenance.backup.verified",
        actor=actor, target=backup if backup.pk else None, detail={"file": backup.file_name},
    )  # fmt: skip
    return backup


def _compare(expected: dict, actual: dict, where: str) -> None:
    for table, figures in expected.items():
        found = actual.get(table)
        if found is None:
            raise BackupError(f"Table {table} is missing from {where}.")
        if found["rows"] != figures["rows"]:
            raise BackupError(f"Table {table}: {found['rows']} rows in {where}, the manifest says {figures['rows']}.")
        if figures.get("sha256") and found.get("sha256") and found["sha256"] != figures["sha256"]:
            raise BackupError(f"Table {table}: its data in {where} does not match the manifest's checksum.")


def _restore_test_mariadb(backup, stages, path, alias, on_restored=None) -> None:
    engine = MariaDBEngine(alias)
    # Under the maintenance lock: no restore is using the scratch databases a killed one left.
    with maintenance_lock(alias):
        scratch_leftovers_drop(engine)
        scratch = _scratch_name(engine, "rtest")
        engine.create_database(scratch)
        try:
            engine.load(_Relay(stages, _file_chunks(path)), scratch, watch=engine.sentinel())
            for table, figures in backup.tables.items():
                if engine.count_rows(scratch, table) != figures["rows"]:
                    raise BackupError(
                        f"Restored table {table} has {engine.count_rows(scratch, table)} rows, expected {figures['rows']}."
                    )
            _compare(backup.tables, engine.inspect(scratch, list(backup.tables)).tables, "the restored database")
            if on_restored is not None:
                with scratch_alias(alias, scratch) as scratch_db:
                    on_restored(scratch_db)
        except DatabaseError as exc:
            raise BackupError(_connection_failed(exc)) from exc
        finally:
            _scratch_drop(engine, scratch)


@contextmanager
def scratch_alias(alias: str, name: str) -> Iterator[str]:
    """A temporary Django database alias, in this thread only, for the database (or SQLite
    file) ``name``, configured like ``alias`` otherwise; closed and forgotten on the way out."""
    import copy
    import uuid

    from django.db.utils import load_backend

    scratch = f"scratch_{uuid.uuid4().hex[:8]}"
    settings_dict = {**copy.deepcopy(connections[alias].settings_dict), "NAME": name}
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, scratch)
    connections[scratch] = wrapper
    try:
        yield scratch
    finally:
        wrapper.close()
        del connections[scratch]


def _scratch_name(engine, purpose: str) -> str:
    return f"{engine.database}_{purpose}_{timezone.now():%Y%m%d%H%M%S%f}"[-64:]


SCRATCH_PURPOSES = ("restore", "rtest", "replaced")


def scratch_leftovers_drop(engine: MariaDBEngine) -> list[str]:
    """Drop the scratch databases that a killed restore, restore test or drill left behind (a
    full copy of personal data each). Call it only under the maintenance lock, when no restore
    can be using them. Only this live database's: ``<live>_<purpose>_<20 digits>`` exactly, so
    the scratch copies of other databases on the same server are never touched."""
    pattern = re.compile(rf"{re.escape(engine.database)}_(?:{'|'.join(SCRATCH_PURPOSES)})_\d{{20}}")
    leftovers = [name for (name,) in engine.execute("SHOW DATABASES") if pattern.fullmatch(name)]
    for name in leftovers:
        engine.drop_database(name)
    if leftovers:
        audit_log(action="maintenance.backup.scratch_dropped", detail={"databases": leftovers})
    return leftovers


def _scratch_drop(engine: MariaDBEngine, name: str) -> None:
    """Drop a scratch database on the way out, whatever happened: on a new connection if the
    working one was lost. If even that fails, the next restore drops it."""
    try:
        engine.reconnect_if_lost()
        engine.drop_database(name)
    except DatabaseError:
        log.warning("Could not drop the scratch database %s; the next restore will.", name, exc_info=True)


def _connection_failed(exc: BaseException) -> str:
    return _("The database connection failed during the operation: %(error)s") % {"error": exc}


def reconnect_if_lost(alias: str = DEFAULT_DB_ALIAS) -> None:
    connection = connections[alias]
    if connection.vendor == "mysql":
        MariaDBEngine(alias).reconnect_if_lost()


def _decompress_to(stages, path: Path, destination: Path) -> None:
    with private_open(destination, "wb") as out:  # a restored SQLite copy becomes the live database
        Pipeline(stages).run(_file_chunks(path), out.write)


def _record_verification(backup: Backup, *, ok: bool, restore_test: bool, alias: str) -> None:
    now = timezone.now()
    backup.verified_at, backup.verify_ok = now, ok
    if restore_test and ok:
        backup.restore_tested_at = now
    if backup.pk:
        Backup.objects.using(alias).filter(pk=backup.pk).update(
            verified_at=now, verify_ok=ok, restore_tested_at=backup.restore_tested_at
        )


# --- Restore --------------------------------------------------------------------------------


def database_is_empty(alias: str = DEFAULT_DB_ALIAS) -> bool:
    return not connections[alias].introspection.table_names()


def backup_restore(
    backup: Backup,
    *,
    tables: list[str] | None = None,
    actor=None,
    alias: str = DEFAULT_DB_ALIAS,
    safety_backup: bool = True,
    without_ledger: bool = False,
) -> Backup | None:
    """Restore a whole backup, or only ``tables``, over the live database. Returns the safety
    backup taken first (None when the database was empty). The erasure ledger copy that came
    with the backup is checked first (see :func:`check_ledger_copy`)."""
    ledger = check_ledger_copy(backup, without_ledger=without_ledger, actor=actor)
    tables = tables or []
    unknown = sorted(set(tables) - set(backup.tables)) if backup.tables else []
    if unknown:
        raise BackupError(f"{backup.file_name} has no table(s) {', '.join(unknown)}.")
    with maintenance_lock(alias):
        if isinstance(engine_for(alias), MariaDBEngine):
            scratch_leftovers_drop(MariaDBEngine(alias))
        # The file's checksum first; its contents are checked against the manifest as they
        # stream into the scratch database, before anything touches the live tables.
        try:
            _check_file(backup)
        except BackupError as exc:
            _record_verification(backup, ok=False, restore_test=False, alias=alias)
            report_failure("verification", backup, exc, actor)
            raise BackupError(f"{backup.file_name} failed verification: {exc}") from exc
        checked = _verifications(alias)
        safety = None
        if safety_backup and not database_is_empty(alias):
            safety = _create(kind=BackupKind.SAFETY, tables=[], actor=actor, alias=alias)
        # The live audit trail is read at the last moment before the swap (a load can take
        # minutes, and the salon keeps working): the entries the backup lacks go back after it.
        kept = []

        def keep_the_audit_trail() -> None:
            kept.append(audit_entries_read(alias=alias, tables=tables))

        try:
            engine = engine_for(alias)
            if isinstance(engine, MariaDBEngine):
                _restore_mariadb(engine, backup, tables, before_swap=keep_the_audit_trail)
            else:
                _restore_sqlite(engine, backup, tables, before_swap=keep_the_audit_trail)
        except Exception as exc:
            reconnect_if_lost(alias)
            report_failure("restore", backup, exc, actor)
            raise BackupError(f"The restore failed; the live database was left as it was. {exc}") from exc
        try:
            carried = audit_entries_put_back(kept[0], backup_dir=backup_dir())
        except AuditTrailError as exc:
            report_failure("restore", backup, exc, actor)
            raise BackupError(f"The data was restored, but not the audit entries since the backup. {exc}") from exc
        if _catalogue_exists(alias):
            catalogue_rescan(alias)
            _carry_verifications(checked, alias)
        backup_restored.send(sender=Backup, backup=backup, tables=tables, alias=alias, ledger=ledger)
    audit_log(
        action="maintenance.backup.restored", actor=actor, target=Backup.objects.filter(file_name=backup.file_name).first(),
        detail={"file": backup.file_name, "tables": tables or "all", "safety_backup": safety.file_name if safety else None,
                "audit_entries_kept": carried},
    )  # fmt: skip
    return safety


def _verifications(alias: str) -> dict[str, dict]:
    """Every catalogued backup's verification state, by file name: the restore replaces the
    catalogue with the backup's own (taken before these checks ran) and must not forget them."""
    if not _catalogue_exists(alias):
        return {}
    fields = ("file_name", "verified_at", "verify_ok", "restore_tested_at")
    return {row["file_name"]: row for row in Backup.objects.using(alias).exclude(verified_at=None).values(*fields)}


def _carry_verifications(checked: dict[str, dict], alias: str) -> None:
    for row in Backup.objects.using(alias).filter(file_name__in=checked):
        state = {k: v for k, v in checked[row.file_name].items() if k != "file_name"}
        if row.verified_at is None or row.verified_at < state["verified_at"]:
            Backup.objects.using(alias).filter(pk=row.pk).update(**state)


def _restore_mariadb(
    engine: MariaDBEngine, backup: Backup, tables: list[str], *, before_swap: Callable[[], None]
) -> None:
    scratch = _scratch_name(engine, "restore")
    engine.create_database(scratch)
    try:
        inspector = DumpInspector()
        with _reading_stages(backup) as stages:
            stream = inspect(_Relay(stages, _file_chunks(backup_path(backup))), inspector)
            engine.load(filter_tables(stream, set(tables)) if tables else stream, scratch, watch=engine.sentinel())
        stats = inspector.close()
        if not stats.trailer:
            raise BackupError("The dump inside the file has no completion trailer: it is incomplete.")
        _compare(backup.tables, stats.tables, "the file")
        for table in tables or backup.tables:
            expected = backup.tables[table]["rows"]
            if engine.count_rows(scratch, table) != expected:
                raise BackupError(
                    f"Table {table} came back with {engine.count_rows(scratch, table)} rows instead of {expected}."
                )
        before_swap()
        if tables:
            engine.copy_tables(scratch, tables)
        else:
            trash = _scratch_name(engine, "replaced")
            engine.swap_in(scratch, trash)
            engine.drop_database(trash)
    except DatabaseError as exc:
        raise BackupError(_connection_failed(exc)) from exc
    finally:
        _scratch_drop(engine, scratch)


def _restore_sqlite(
    engine: SQLiteEngine, backup: Backup, tables: list[str], *, before_swap: Callable[[], None]
) -> None:
    import sqlite3

    live = Path(engine.database)
    with tempfile.TemporaryDirectory(prefix="beils-restore-", dir=live.parent) as scratch:
        copy = Path(scratch) / "restored.sqlite3"
        with _reading_stages(backup) as stages:
            _decompress_to(stages, backup_path(backup), copy)
        _compare(backup.tables, sqlite_table_stats(copy), "the restored copy")
        before_swap()
        connections[engine.alias].close()
        if not tables:
            for suffix in ("-wal", "-shm"):
                Path(f"{live}{suffix}").unlink(missing_ok=True)
            os.replace(copy, live)
            return
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


# --- Reporting --------------------------------------------------------------------------------


def report_failure(operation: str, backup: Backup, exc: BaseException, actor) -> None:
    audit_log(
        action=f"maintenance.backup.{operation}_failed", actor=actor, outcome=Outcome.FAILURE,
        target=backup if backup.pk else None, detail={"file": backup.file_name, "error": str(exc)[:2000]},
    )  # fmt: skip
    mail_admins(
        f"Beils: {operation} of {backup.file_name} failed",
        f"The {operation} of {backup.file_name} failed at {timezone.now():%Y-%m-%d %H:%M %Z}:\n\n{exc}\n\n"
        "Older backups were not touched. See the maintenance dashboard and the audit trail.",
        fail_silently=True,
    )


def rpo_breached(*, now=None, latest: Backup | None = None) -> bool:
    """True when the last good backup (``latest``, looked up if not given) is older than the
    recovery point objective."""
    latest = latest or Backup.objects.latest_good()
    limit = timedelta(hours=settings.BACKUP_RPO_HOURS)
    return latest is None or (now or timezone.now()) - latest.started_at > limit
