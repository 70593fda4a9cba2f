"""The uploaded files in every backup: signed consent documents and product images.

The database names files that live in ``STORAGES["default"]``: a backup of the rows alone would
restore consents whose signed document is gone. So every backup set has a second archive beside
the dump, ``FILE.media.tar.gz`` (``.age`` added when backups are encrypted), written 0600 and
recorded in the same signed manifest (file, size, SHA-256, number of files). It is verified with
the dump, copied off-site with it and restored with it.

Everything goes through the storage API (``listdir``, ``open``, ``save``), never MEDIA_ROOT,
so it works the same on local disk and on an S3 bucket (``MEDIA_S3_BUCKET``). The files of
import and export jobs (``jobs/``) are transient copies of data the database holds: they are
left out, and an erasure removes them anyway.
"""

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from backups import crypto
from backups.catalogue import BackupError, backup_path, sha256_of
from backups.models import Backup
from backups.pipeline import Pipeline, compressor, read_chunks
from beils.lib.private import private_open

#: Top-level folders of the storage that are not backed up (transient job files).
EXCLUDED = ("jobs",)
SUFFIX = ".media.tar.gz"
#: A file is held in memory up to this size on its way back into storage, then on disk.
SPOOL_BYTES = 8 * 2**20


def media_path(backup: Backup) -> Path | None:
    """Where ``backup``'s files archive lies, or None for a backup taken before files were archived."""
    return backup_path(backup).with_name(backup.media["file"]) if backup.media else None


def storage_names(storage=default_storage, directory: str = "") -> Iterator[str]:
    """Every file in ``storage`` under ``directory``, the excluded folders left out. A missing
    media directory (nothing uploaded yet) holds nothing."""
    try:
        folders, files = storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{directory}{name}"
    for folder in sorted(folders):
        if directory or folder not in EXCLUDED:
            yield from storage_names(storage, f"{directory}{folder}/")


# --- Writing the archive ----------------------------------------------------------------------


def media_archive(backup: Backup, path: Path, *, beat: Callable[[], None] = lambda: None) -> Path:
    """Archive the storage's files beside the backup file ``path`` (compressed, and encrypted
    like the dump) and record the archive in ``backup.media`` for the manifest. Returns the
    archive's path. Memory stays flat: files stream through a pipe into pigz (and age).
    ``beat()`` is called as the archive grows (the backup's sign of life)."""
    target = Path(f"{path}{SUFFIX}{crypto.SUFFIX if backup.encrypted else ''}")
    stages = [compressor(settings.BACKUP_COMPRESSION_LEVEL)]
    if backup.encrypted:
        stages.append(crypto.encrypt_stage())
    counted = {"files": 0, "bytes": 0}
    partial = target.with_name(f".{target.name}.partial")
    try:
        with private_open(partial, "wb") as out:

            def sink(chunk: bytes) -> None:
                out.write(chunk)
                beat()

            Pipeline(stages).run(_tar_stream(default_storage, counted), sink)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    backup.media = {"file": target.name, "size_bytes": target.stat().st_size, "sha256": sha256_of(target), **counted}
    return target


def _tar_stream(storage, counted: dict) -> Iterator[bytes]:
    """A tar of every file in ``storage``, written by a thread into a pipe and read here."""
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with (
                os.fdopen(write_fd, "wb") as out,
                tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar,
            ):
                for name in storage_names(storage):
                    counted["bytes"] += _add(tar, storage, name)
                    counted["files"] += 1
        except BaseException as exc:  # a broken pipe: the reader stopped, and says why
            errors.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with os.fdopen(read_fd, "rb") as source:
        yield from read_chunks(source)
    writer.join()
    if errors:
        raise BackupError(_("The uploaded files could not be archived: %(error)s") % {"error": errors[0]})


def _add(tar: tarfile.TarFile, storage, name: str) -> int:
    """Add one file; return its size (one request for it on S3, not two)."""
    info = tarfile.TarInfo(name)
    info.size, info.mode = storage.size(name), 0o600
    with contextlib.suppress(NotImplementedError):  # a storage that does not know: time 0 will do
        info.mtime = int(storage.get_modified_time(name).timestamp())
    with storage.open(name, "rb") as handle:
        tar.addfile(info, handle)
    return info.size


# --- Checking and restoring -------------------------------------------------------------------


def media_check_file(backup: Backup) -> None:
    """The archive is there, with the size and SHA-256 of the signed manifest."""
    path = media_path(backup)
    if path is None:
        return
    if not path.is_file():
        raise BackupError(_("Its files archive %(name)s is missing.") % {"name": path.name})
    if path.stat().st_size != backup.media["size_bytes"] or sha256_of(path) != backup.media["sha256"]:
        raise BackupError(
            _("Its files archive %(name)s does not match the size and SHA-256 of its manifest: damaged or altered.")
            % {"name": path.name}
        )


def media_verify(backup: Backup, source: Iterable[bytes]) -> None:
    """Read the decompressed archive to its end: it holds the files the manifest counts."""
    files, reader = 0, _Reader(source)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        for member in tar:
            if member.isfile():
                shutil.copyfileobj(tar.extractfile(member), _Null())
                files += 1
    reader.drain()
    if files != backup.media["files"]:
        raise BackupError(
            _("Its files archive holds %(found)d files, the manifest says %(expected)d.")
            % {"found": files, "expected": backup.media["files"]}
        )


def media_restore(source: Iterable[bytes], storage=default_storage) -> int:
    """Write every file of the decompressed archive back through ``storage``, replacing the
    file of the same name; return how many. Files uploaded since the backup are left alone."""
    restored, reader = 0, _Reader(source)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        for member in tar:
            if not member.isfile() or not _safe(member.name):
                continue
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
                shutil.copyfileobj(tar.extractfile(member), spool)
                spool.seek(0)
                if storage.exists(member.name):
                    storage.delete(member.name)
                saved = storage.save(member.name, File(spool, name=member.name))
            if saved != member.name:
                raise BackupError(
                    _("%(name)s was restored as %(saved)s: the storage renamed it.")
                    % {"name": member.name, "saved": saved}
                )
            restored += 1
    reader.drain()
    return restored


def _safe(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts and parts[0] not in EXCLUDED


class _Reader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (what tarfile's stream mode reads)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks, self._pending = iter(chunks), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size

    def drain(self) -> None:
        """Read to the end (tar stops before its padding): the source's own checks run there."""
        for _chunk in self._chunks:
            pass


class _Null:
    def write(self, data: bytes) -> int:
        return len(data)
