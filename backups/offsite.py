"""Copies of backups on a second location: a directory on another drive, S3-compatible storage.

The rules they keep:
- a copy counts only once it is proven whole: in the second directory it is written under a
  hidden temporary name, synced, read back and checked against the backup's SHA-256 before it
  takes the file's name; on S3 the object's size and ``sha256`` metadata are read back;
- the local file is checked before it is sent, so a damaged file never replaces a good copy;
- a failed copy never deletes or alters the local backup: it is audited, the admins are told,
  and the next run tries again;
- every target is tried even when one fails, so a dead second drive does not stop the S3 copy.

Credentials for S3 come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or an
instance role) through boto3's own lookup; they are never passed on a command line.
"""

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils.translation import gettext as _

from audit.models import AuditEntry, Outcome
from audit.services import audit_log
from backups import signing
from backups.catalogue import (
    BackupError,
    backup_dir,
    backup_path,
    check_held_here,
    check_signature,
    fsync_dir,
    ledger_copy_path,
    report_failure,
    sha256_of,
    write_manifest,
)
from backups.ledger import ledger_snapshot
from backups.media import media_path
from backups.models import Backup, BackupStatus
from backups.pipeline import CHUNK

# Files above this go to S3 in parts of this size (s3transfer raises it to stay under 10,000 parts).
MULTIPART_BYTES = 16 * 2**20


def offsite_configured() -> bool:
    return bool(settings.BACKUP_COPY_DIR or settings.BACKUP_S3_BUCKET)


def backup_copy_offsite(backup: Backup, *, actor=None) -> list[dict]:
    """Copy a good backup and its manifest to every configured target; return the copies made.

    Each copy is added to ``backup.storage`` once (copying again refreshes it without a
    duplicate entry). Raises :class:`BackupError` naming every target that failed, after the
    other targets have been copied and recorded.
    """
    source = _checked_source(backup)
    ledger_snapshot(backup, source)  # the newest ledger travels: it only grows
    manifest = write_manifest(backup, backup_dir())
    copies, failures = [], []
    for label, copy in _targets():
        try:
            copies.append(copy(backup, source, manifest))
        except Exception as exc:
            failures.append(f"{label}: {exc}")
    _record(backup, copies)
    if copies:
        audit_log(
            action="maintenance.backup.copied", actor=actor, target=backup if backup.pk else None,
            detail={"file": backup.file_name, "targets": copies},
        )  # fmt: skip
    if failures:
        error = BackupError(
            _(
                "The off-site copy of %(name)s failed for %(failures)s. "
                "The local backup was not touched; fix the target and run manage.py copybackup again."
            )
            % {"name": backup.file_name, "failures": "; ".join(failures)}
        )
        report_failure("copy", backup, error, actor)
        raise error
    return copies


def _checked_source(backup: Backup) -> Path:
    if backup.status != BackupStatus.SUCCESS:
        raise BackupError(
            _("%(name)s is not a good backup (%(status)s); only good ones are copied.")
            % {"name": backup.file_name, "status": backup.status}
        )
    if not offsite_configured():
        raise BackupError(_("No off-site target is configured: set BACKUP_COPY_DIR and/or BACKUP_S3_BUCKET."))
    check_held_here(backup)
    path = backup_path(backup)
    if not path.is_file():
        raise BackupError(_("%(path)s is missing; there is nothing to copy.") % {"path": path})
    if sha256_of(path) != backup.sha256:
        raise BackupError(
            _("%(path)s does not match its SHA-256: it is damaged and was not copied anywhere.") % {"path": path}
        )
    if backup.pk is None:
        # Known from its manifest alone: copying re-signs the manifest, so it must be genuine first.
        check_signature(backup)
    return path


def _targets() -> list[tuple[str, Callable[[Backup, Path, Path], dict]]]:
    targets = []
    if settings.BACKUP_COPY_DIR:
        targets.append((_second_directory_label(), _copy_to_dir))
    if settings.BACKUP_S3_BUCKET:
        targets.append((_s3_label(), _copy_to_s3))
    return targets


def _record(backup: Backup, copies: list[dict]) -> None:
    new = [copy for copy in copies if copy not in backup.storage]
    if not new:
        return
    backup.storage = [*backup.storage, *new]
    if backup.pk:
        backup.save(update_fields=["storage"])
    write_manifest(backup, backup_dir())


# --- A second directory ---------------------------------------------------------------------


def _copy_dir() -> Path:
    directory = Path(settings.BACKUP_COPY_DIR).expanduser()
    if directory.resolve() == backup_dir().resolve():
        raise BackupError(_("BACKUP_COPY_DIR is the backup directory itself; it must be another location."))
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(
            _("cannot create %(path)s: %(error)s") % {"path": directory, "error": exc.strerror or exc}
        ) from exc
    return directory


def _copy_to_dir(backup: Backup, source: Path, manifest: Path) -> dict:
    directory = _copy_dir()
    # The file first: a manifest in the second directory means its backup arrived whole.
    _copy_verified(source, directory / source.name, backup.sha256)
    for path, sha256 in _set_files(backup, source):
        _copy_verified(path, directory / path.name, sha256)
    _copy_verified(manifest, directory / manifest.name, sha256_of(manifest))
    return {"kind": "dir", "path": str(directory / source.name)}


def _set_files(backup: Backup, source: Path) -> list[tuple[Path, str]]:
    """The files that travel with the backup file: its ledger copy and its files archive."""
    files = [(ledger_copy_path(source), backup.ledger["sha256"])]
    if backup.media:
        files.append((media_path(backup), backup.media["sha256"]))
    return files


def _copy_verified(source: Path, target: Path, sha256: str) -> None:
    """Copy under a unique hidden name, sync, check the bytes on disk, then take ``target``'s name."""
    with _partial_in(target.parent, target.name) as partial:
        with open(source, "rb") as src, open(partial, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        if (copied := sha256_of(partial)) != sha256:
            raise BackupError(
                _("the copy of %(name)s in %(path)s has SHA-256 %(copied)s, not %(expected)s")
                % {"name": source.name, "path": target.parent, "copied": copied, "expected": sha256}
            )
        os.replace(partial, target)
    fsync_dir(target.parent)


@contextmanager
def _partial_in(directory: Path, name: str) -> Iterator[Path]:
    """A unique hidden temporary file in ``directory`` (two copies running at once never share
    one), removed on the way out unless it was renamed."""
    try:
        fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=directory)
    except OSError as exc:
        raise BackupError(
            _("cannot write in %(path)s: %(error)s") % {"path": directory, "error": exc.strerror or exc}
        ) from exc
    os.close(fd)
    try:
        yield Path(path)
    finally:
        Path(path).unlink(missing_ok=True)


# --- S3-compatible storage ------------------------------------------------------------------


def _s3_client():
    import boto3
    from botocore.config import Config

    # Fail within a minute or so when the endpoint is down, instead of boto3's long default retries.
    config = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("s3", endpoint_url=settings.BACKUP_S3_ENDPOINT_URL or None, config=config)


def _transfer_config():
    from boto3.s3.transfer import TransferConfig

    # Memory stays near max_concurrency × part size whatever the file size.
    return TransferConfig(multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES, max_concurrency=4)


def _endpoint_label() -> str:
    return settings.BACKUP_S3_ENDPOINT_URL or "AWS"


def _second_directory_label() -> str:
    return _("the second directory %(path)s") % {"path": settings.BACKUP_COPY_DIR}


def _s3_label() -> str:
    return _("S3 bucket %(bucket)s at %(endpoint)s") % {
        "bucket": settings.BACKUP_S3_BUCKET,
        "endpoint": _endpoint_label(),
    }


def _s3_key(file_name: str) -> str:
    return f"{settings.BACKUP_S3_PREFIX}{file_name}"


def _copy_to_s3(backup: Backup, source: Path, manifest: Path) -> dict:
    client, bucket = _s3_client(), settings.BACKUP_S3_BUCKET
    for path, sha256 in ((source, backup.sha256), *_set_files(backup, source), (manifest, sha256_of(manifest))):
        key = _s3_key(path.name)
        client.upload_file(
            str(path), bucket, key, ExtraArgs={"Metadata": {"sha256": sha256}}, Config=_transfer_config()
        )
        head = client.head_object(Bucket=bucket, Key=key)
        size = path.stat().st_size
        if head["ContentLength"] != size or head.get("Metadata", {}).get("sha256") != sha256:
            raise BackupError(
                _("%(url)s reads back as %(size)s bytes with SHA-256 %(sha256)s; expected %(expected_size)s bytes and %(expected)s")
                % {"url": f"s3://{bucket}/{key}", "size": head["ContentLength"],
                   "sha256": repr(head.get("Metadata", {}).get("sha256")), "expected_size": size, "expected": sha256}
            )  # fmt: skip
    return {"kind": "s3", "bucket": bucket, "key": _s3_key(source.name), "endpoint": settings.BACKUP_S3_ENDPOINT_URL}


# --- Disaster recovery ----------------------------------------------------------------------


def fetch_from_offsite(file_name: str, destination_dir: Path, *, actor=None, without_ledger: bool = False) -> Path:
    """Bring a backup file and its manifest back from the second directory or, failing that, S3.

    The file is checked against the SHA-256 in its manifest before it takes its name in
    ``destination_dir``; a copy that does not match is refused and the next source is tried.
    A file already in ``destination_dir`` is never overwritten. Works without a database (it
    is for when the server is lost); the fetch is audited when the audit table is there.

    The erasure ledger copy named in the manifest comes too, checked the same way; a backup
    without one is refused unless ``without_ledger`` (the operator's explicit choice).
    """
    if not file_name or Path(file_name).name != file_name or file_name.startswith("."):
        raise BackupError(
            _("%(name)s is not a backup file name (give the name alone, without a directory).")
            % {"name": repr(file_name)}
        )
    destination_dir = Path(destination_dir)
    destination_dir.mkdir(parents=True, exist_ok=True)
    target = destination_dir / file_name
    if target.exists():
        raise BackupError(_("%(path)s already exists; move it away first, it is never overwritten.") % {"path": target})
    sources = _sources()
    if not sources:
        raise BackupError(_("No off-site source is configured: set BACKUP_COPY_DIR and/or BACKUP_S3_BUCKET."))
    refused = []
    for label, fetch in sources:
        try:
            _fetch_verified(fetch, file_name, target, without_ledger=without_ledger)
        except Exception as exc:
            refused.append(f"{label}: {exc}")
            continue
        _audit_if_possible("maintenance.backup.fetched", actor, {"file": file_name, "from": label, "to": str(target)})
        return target
    error = BackupError(
        _("%(name)s could not be fetched: %(reasons)s.") % {"name": file_name, "reasons": "; ".join(refused)}
    )
    _audit_if_possible("maintenance.backup.fetch_failed", actor, {"file": file_name, "error": str(error)[:2000]})
    raise error


def _audit_if_possible(action: str, actor, detail: dict) -> None:
    # The database may be the very thing being recovered: a fetch must not depend on it.
    with suppress(DatabaseError):
        if AuditEntry._meta.db_table in connection.introspection.table_names():
            outcome = Outcome.FAILURE if action.endswith("_failed") else Outcome.SUCCESS
            audit_log(action=action, actor=actor, outcome=outcome, detail=detail)


def _sources() -> list[tuple[str, Callable[[str, Path], None]]]:
    sources = []
    if settings.BACKUP_COPY_DIR:
        sources.append((_second_directory_label(), _fetch_from_dir))
    if settings.BACKUP_S3_BUCKET:
        sources.append((_s3_label(), _fetch_from_s3))
    return sources


def _fetch_verified(fetch: Callable[[str, Path], None], file_name: str, target: Path, *, without_ledger: bool) -> None:
    directory = target.parent
    ledger_name = ledger_copy_path(target).name
    with (
        _partial_in(directory, f"{file_name}.json") as manifest,
        _partial_in(directory, file_name) as partial,
        _partial_in(directory, ledger_name) as ledger,
        ExitStack() as stack,
    ):
        fetch(f"{file_name}.json", manifest)
        expected = _manifest_facts(manifest, file_name)
        fetch(file_name, partial)
        if (actual := sha256_of(partial)) != expected["sha256"]:
            raise BackupError(
                _("the copy has SHA-256 %(actual)s, its manifest says %(expected)s; refused")
                % {"actual": actual, "expected": expected["sha256"]}
            )
        has_ledger = _fetch_ledger(fetch, ledger_name, ledger, expected.get("ledger"), without_ledger)
        media = _fetch_media(fetch, expected.get("media"), directory, stack)
        for path in (manifest, partial, ledger, *media):
            os.chmod(path, 0o600)  # a download may have replaced the private temporary file
        if has_ledger:
            os.replace(ledger, directory / ledger_name)
        for path in media:
            os.replace(path, directory / expected["media"]["file"])
        os.replace(manifest, directory / f"{file_name}.json")
        os.replace(partial, target)
    fsync_dir(directory)


def _fetch_media(fetch, facts: dict | None, directory: Path, stack: ExitStack) -> list[Path]:
    """Fetch the files archive the manifest names (none before files were backed up), checked
    against its SHA-256: a set restored without it would name consent documents it lacks."""
    if not facts:
        return []
    name = facts.get("file", "")
    if Path(name).name != name or name.startswith("."):
        raise BackupError(_("its manifest names %(name)s as its files archive; refused") % {"name": repr(name)})
    destination = stack.enter_context(_partial_in(directory, name))
    try:
        fetch(name, destination)
    except Exception as exc:
        raise BackupError(
            _("its files archive %(name)s could not be fetched (%(error)s); refused") % {"name": name, "error": exc}
        ) from exc
    if sha256_of(destination) != facts.get("sha256"):
        raise BackupError(
            _("its files archive %(name)s does not match the SHA-256 in the signed manifest; refused") % {"name": name}
        )
    return [destination]


def _fetch_ledger(fetch, name: str, destination: Path, facts: dict | None, without_ledger: bool) -> bool:
    """Fetch the erasure ledger copy the manifest names; False when it is missing and the
    operator chose to go on without it."""
    try:
        if not facts:
            raise BackupError(_("its manifest names no erasure ledger copy (copied before ledgers travelled)"))
        try:
            fetch(name, destination)
        except Exception as exc:
            raise BackupError(_("its erasure ledger copy could not be fetched (%(error)s)") % {"error": exc}) from exc
        if sha256_of(destination) != facts.get("sha256"):
            raise BackupError(_("its erasure ledger copy does not match the SHA-256 in the signed manifest"))
    except BackupError as exc:
        if without_ledger:
            return False
        raise BackupError(
            _(
                "%(error)s; refused: restored without it, clients erased since the backup would come back "
                "(use --without-ledger to fetch it anyway)"
            )
            % {"error": exc}
        ) from exc
    return True


def _manifest_facts(path: Path, file_name: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise BackupError(_("its manifest is not valid JSON (%(error)s)") % {"error": exc}) from exc
    if data.get("file_name") != file_name or not data.get("sha256"):
        raise BackupError(_("its manifest does not describe %(name)s or has no SHA-256") % {"name": file_name})
    try:
        signing.verify(data)
    except signing.SignatureError as exc:
        raise BackupError(_("its manifest fails the signature check (%(error)s); refused") % {"error": exc}) from exc
    return data


def _fetch_from_dir(name: str, destination: Path) -> None:
    source = Path(settings.BACKUP_COPY_DIR).expanduser() / name
    if not source.is_file():
        raise BackupError(_("%(path)s is missing") % {"path": source})
    with open(source, "rb") as src, open(destination, "wb") as out:
        shutil.copyfileobj(src, out, CHUNK)
        out.flush()
        os.fsync(out.fileno())


def _fetch_from_s3(name: str, destination: Path) -> None:
    _s3_client().download_file(settings.BACKUP_S3_BUCKET, _s3_key(name), str(destination), Config=_transfer_config())
