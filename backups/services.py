"""Backups: create, verify, restore. Every entry point (command, admin, API, Celery) calls these.
The engine-specific work (dump, load, swap) is the engine's (``engines/``); the files, manifests
and catalogue rows are kept by ``catalogue.py``, whose names are importable from here too.

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
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.chain import AuditTrailError, audit_entries_put_back, audit_entries_read
from audit.services import audit_log
from backups import crypto
from backups.catalogue import (  # the bookkeeping; importable from here as ever
    MANIFEST_FIELDS,
    BackupElsewhere,
    BackupError,
    backup_dir,
    backup_path,
    catalogue_exists,
    catalogue_rescan,
    check_held_here,
    check_signature,
    fsync_dir,
    held_here,
    latest_good_here,
    ledger_copy_path,
    migration_state,
    partial_path,
    read_manifest,
    read_signed_manifest,
    report_failure,
    resolve,
    restore_instructions,
    rpo_breached,
    sha256_of,
    write_manifest,
)
from backups.engines import engine_class, engine_for
from backups.engines.base import Source
from backups.ledger import ledger_for_restore, ledger_snapshot
from backups.locks import maintenance_lock
from backups.media import media_archive, media_check_file, media_path, media_restore, media_verify
from backups.models import Backup, BackupKind, BackupStatus
from backups.offsite import backup_copy_offsite, offsite_configured
from backups.pipeline import Pipeline, PipelineError, compressor, decompressor, read_chunks
from backups.signals import backup_restored
from beils.lib.private import private_open
from beils.lib.progress import Progress
from maintenance.pulse import Pulse

__all__ = [
    "MANIFEST_FIELDS", "BackupElsewhere", "BackupError", "Progress", "backup_create", "backup_dir", "backup_path", "backup_restore",
    "backup_run", "backup_verify", "catalogue_rescan", "check_held_here", "check_signature",
    "database_is_empty", "fsync_dir", "held_here", "latest_good_here", "ledger_copy_path", "migration_state", "partial_path", "read_manifest",
    "read_signed_manifest", "reconnect_if_lost", "report_failure", "resolve", "restore_instructions",
    "rpo_breached", "sha256_of", "write_manifest",
]  # fmt: skip


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
    if tables and not engine_for(alias).partial_backups:
        # Refused before the catalogue row is written: bad input writes nothing.
        raise BackupError(_("Partial backups (--tables) need MariaDB; SQLite backups are always full."))
    with maintenance_lock(alias):
        return _create(kind=kind, tables=tables or [], actor=actor, alias=alias, progress=progress)


def _create(*, kind, tables, actor, alias, progress=None) -> Backup:
    engine = engine_for(alias)
    directory = backup_dir()
    started = timezone.now()
    catalogued = catalogue_exists(alias)
    name = _file_name(engine, started, encrypted=crypto.enabled(), catalogued=catalogued)
    backup = Backup(
        file_name=name, kind=kind, engine=engine.vendor, database=Path(engine.database).name, started_at=started,
        heartbeat_at=started,
        compression="gzip", encrypted=crypto.enabled(), tables_requested=tables, host=settings.BEILS_HOST,
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
                raise PipelineError(_("The dump ended without its completion trailer: it is incomplete."))
            out.flush()
            os.fsync(out.fileno())
        media_archive(backup, directory / name, beat=pulse)
        # After the dump: an erasure made while it ran is in the copy, the person perhaps in the dump.
        ledger_snapshot(backup, directory / name)
        os.replace(partial, directory / name)
        fsync_dir(directory)
        backup.size_bytes, backup.sha256, backup.tables = size, digest.hexdigest(), figures.tables
        backup.binlog = getattr(figures, "binlog", None)
        backup.status, backup.finished_at = BackupStatus.SUCCESS, timezone.now()
        backup.storage = [{"kind": "local", "path": str(directory / name)}]
        write_manifest(backup, directory)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        ledger_copy_path(directory / name).unlink(missing_ok=True)
        if backup.media:
            media_path(backup).unlink(missing_ok=True)
        backup.status, backup.finished_at, backup.error = BackupStatus.FAILED, timezone.now(), str(exc)
        if catalogued:
            backup.save(using=alias)
        report_failure("backup", backup, exc, actor)
        raise BackupError(_("The backup failed and was discarded: %(error)s") % {"error": exc}) from exc
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


def _check_free_space(engine, directory: Path, *, catalogued: bool) -> int:
    """Refuse (PipelineError) unless ``directory`` has room for the new backup; return the
    backup's expected size in bytes (what progress is measured against)."""
    free = shutil.disk_usage(directory).free
    previous = catalogued and Backup.objects.filter(status=BackupStatus.SUCCESS).order_by("-started_at").first()
    # A compressed dump is a fraction of the data; the last backup's size is the best guide.
    expected = (previous.size_bytes if previous else None) or engine.size_bytes() // 3
    needed = max(int(expected * 1.5), settings.BACKUP_MIN_FREE_BYTES)
    if free < needed:
        raise PipelineError(
            _(
                "Not enough free space in %(directory)s: %(free)s MiB free, about %(needed)s MiB needed. "
                "Free some space or prune old backups (manage.py prunebackups)."
            )
            % {"directory": directory, "free": free // 2**20, "needed": needed // 2**20}
        )
    return expected


# --- Reading a backup back ------------------------------------------------------------------


@contextmanager
def _reading(backup: Backup, path: Path | None = None) -> Iterator[Source]:
    """The backup's decompressed (and decrypted) bytes, as a source the engine may read more
    than once while the block runs; those of the set's file at ``path`` (the files archive)
    when given."""
    path = path or backup_path(backup)
    with ExitStack() as stack:
        stages = [stack.enter_context(crypto.decrypt_stage())] if backup.encrypted else []
        stages.append(decompressor())
        yield lambda: _Relay(stages, _file_chunks(path))


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
        raise BackupError(_("The file %(path)s is missing.") % {"path": path})
    check_signature(backup)
    if backup.size_bytes is not None and path.stat().st_size != backup.size_bytes:
        raise BackupError(
            _("%(name)s is %(size)s bytes, the catalogue says %(expected)s: truncated or replaced.")
            % {"name": path.name, "size": path.stat().st_size, "expected": backup.size_bytes}
        )
    if backup.sha256 and sha256_of(path) != backup.sha256:
        raise BackupError(
            _("%(name)s does not match its SHA-256 checksum: the file is corrupted or was altered.")
            % {"name": path.name}
        )
    media_check_file(backup)
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
    in it fails the verification. A file another host holds is refused (BackupElsewhere)
    before anything is recorded."""
    check_held_here(backup)
    try:
        _check_file(backup)
        engine = engine_class(backup.engine)(alias)  # the engine that wrote the file
        with _reading(backup) as source:
            engine.verify(
                source, backup.tables, restore_test=restore_test, on_restored=on_restored,
                exclusive=lambda: maintenance_lock(alias),
            )  # fmt: skip
        if backup.media:
            with _reading(backup, media_path(backup)) as source:
                media_verify(backup, source())
    except (BackupError, PipelineError, OSError, tarfile.TarError) as exc:
        reconnect_if_lost(alias)
        _record_verification(backup, ok=False, restore_test=restore_test, alias=alias)
        report_failure("verification", backup, exc, actor)
        raise BackupError(
            _("%(name)s failed verification: %(error)s") % {"name": backup.file_name, "error": exc}
        ) from exc
    _record_verification(backup, ok=True, restore_test=restore_test, alias=alias)
    audit_log(
        action="maintenance.backup.restore_tested" if restore_test else "maintenance.backup.verified",
        actor=actor, target=backup if backup.pk else None, detail={"file": backup.file_name},
    )  # fmt: skip
    return backup


def reconnect_if_lost(alias: str = DEFAULT_DB_ALIAS) -> None:
    engine_for(alias).reconnect_if_lost()


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
    backup taken first (None when the database was empty). Refused first when the erasure
    ledger the replay would use is missing or older than this installation's, unless
    ``without_ledger`` (see :func:`backups.ledger.ledger_for_restore`)."""
    check_held_here(backup)
    tables = tables or []
    unknown = sorted(set(tables) - set(backup.tables)) if backup.tables else []
    if unknown:
        raise BackupError(
            _("%(name)s has no table(s) %(tables)s.") % {"name": backup.file_name, "tables": ", ".join(unknown)}
        )
    engine = engine_for(alias)
    with maintenance_lock(alias):
        engine.scratch_leftovers_drop()
        # The file's checksum first; its contents are checked against the manifest as they
        # stream into the scratch database, before anything touches the live tables.
        try:
            _check_file(backup)
        except BackupError as exc:
            _record_verification(backup, ok=False, restore_test=False, alias=alias)
            report_failure("verification", backup, exc, actor)
            raise BackupError(
                _("%(name)s failed verification: %(error)s") % {"name": backup.file_name, "error": exc}
            ) from exc
        # Once the manifest's signature is checked: the ledger facts come from it.
        ledger = ledger_for_restore(backup, without_ledger=without_ledger, actor=actor)
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
            with _reading(backup) as source:
                engine.restore(source, backup.tables, tables, before_swap=keep_the_audit_trail)
        except Exception as exc:
            reconnect_if_lost(alias)
            report_failure("restore", backup, exc, actor)
            raise BackupError(
                _("The restore failed; the live database was left as it was. %(error)s") % {"error": exc}
            ) from exc
        try:
            carried = audit_entries_put_back(kept[0], backup_dir=backup_dir())
        except AuditTrailError as exc:
            report_failure("restore", backup, exc, actor)
            raise BackupError(
                _("The data was restored, but not the audit entries since the backup. %(error)s") % {"error": exc}
            ) from exc
        if catalogue_exists(alias):
            catalogue_rescan(alias)
            _carry_verifications(checked, alias)
        files, files_error = _restore_files(backup, tables)
        # Always, even when the files failed: the erasures must be back in force before anyone works.
        backup_restored.send(sender=Backup, backup=backup, tables=tables, alias=alias, ledger=ledger)
    if files_error:
        report_failure("restore", backup, files_error, actor)
        raise BackupError(
            _(
                "The data was restored and the erasures replayed, but not the uploaded files: %(error)s. Fix "
                "the cause and restore the same backup again."
            )
            % {"error": files_error}
        ) from files_error
    audit_log(
        action="maintenance.backup.restored", actor=actor, target=Backup.objects.filter(file_name=backup.file_name).first(),
        detail={"file": backup.file_name, "tables": tables or "all", "safety_backup": safety.file_name if safety else None,
                "audit_entries_kept": carried, "files_restored": files},
    )  # fmt: skip
    return safety


def _restore_files(backup: Backup, tables: list[str]) -> tuple[int | str, Exception | None]:
    """Put the set's uploaded files back through the storage (a full restore only: the rows of
    a partial one still name today's files). Returns how many, or why none, and the error."""
    if tables:
        return "none: a partial restore leaves the files as they are", None
    if not backup.media:
        return "none: the backup was taken before files were backed up", None
    try:
        with _reading(backup, media_path(backup)) as source:
            return media_restore(source()), None
    except (BackupError, PipelineError, OSError, tarfile.TarError) as exc:
        return 0, exc


def _verifications(alias: str) -> dict[str, dict]:
    """Every catalogued backup's verification state, by file name: the restore replaces the
    catalogue with the backup's own (taken before these checks ran) and must not forget them."""
    if not catalogue_exists(alias):
        return {}
    fields = ("file_name", "verified_at", "verify_ok", "restore_tested_at")
    return {row["file_name"]: row for row in Backup.objects.using(alias).exclude(verified_at=None).values(*fields)}


def _carry_verifications(checked: dict[str, dict], alias: str) -> None:
    for row in Backup.objects.using(alias).filter(file_name__in=checked):
        state = {k: v for k, v in checked[row.file_name].items() if k != "file_name"}
        if row.verified_at is None or row.verified_at < state["verified_at"]:
            Backup.objects.using(alias).filter(pk=row.pk).update(**state)


# --- The whole operation ----------------------------------------------------------------------


def backup_run(
    *,
    kind: str = BackupKind.SCHEDULED,
    tables: list[str] | None = None,
    actor=None,
    offsite: bool = True,
    verify: bool = True,
    progress: Progress | None = None,
    alias: str = DEFAULT_DB_ALIAS,
) -> Backup:
    """Back up: write the file (:func:`backup_create`), copy it off-site when that is configured
    (``offsite``), and verify it (``verify``); return the new backup.

    The schedule, the dashboard, the admin and the API all run this. A failed off-site copy
    (audited and mailed by the copy) does not keep the local file from being verified: its
    error is raised once the verification has run. Raises MaintenanceBusy, without writing
    anything, while another backup, restore or migration runs."""
    report = progress or _silent
    report(2, _("Dumping the database"), force=True)
    written = None if progress is None else _bytes_written(progress)
    backup = backup_create(kind=kind, tables=tables, actor=actor, alias=alias, progress=written)
    try:
        if offsite and offsite_configured():
            report(91, _("Copying off-site"), force=True)
            backup_copy_offsite(backup, actor=actor)
    finally:
        if verify:
            report(95, _("Verifying the new file"), force=True)
            backup_verify(backup, actor=actor, alias=alias)
    return backup


def _silent(percent: int, message: str, *, force: bool = False) -> None:
    pass


def _bytes_written(progress: Progress) -> Callable[[int, int], None]:
    """The dump's progress (bytes written of bytes expected) as 0-90 % of the whole."""

    def written(done: int, expected: int) -> None:
        progress(min(90, 90 * done // max(expected, 1)), _("%(size)s KiB written") % {"size": f"{done // 1024:,}"})

    return written
