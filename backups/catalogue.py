"""The backups' bookkeeping: where the files lie, the signed manifest beside each (the catalogue
that survives the database), the ``Backup`` rows rebuilt from them, and how a failure is
reported. The services (``services.py``), the off-site copies and pruning build on it; import
these names from ``services`` outside this package."""

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import mail_admins
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from audit.models import Outcome
from audit.services import audit_log
from backups import signing
from backups.engines import engine_class
from backups.models import Backup
from backups.pipeline import read_chunks
from beils.lib.errors import DomainError
from beils.lib.private import private_dir, write_private_text

MANIFEST_VERSION = 1

#: The operations whose failure is mailed, as the mail names them.
OPERATIONS = {
    "backup": pgettext_lazy("failed operation", "backup"),
    "verification": pgettext_lazy("failed operation", "verification"),
    "restore": pgettext_lazy("failed operation", "restore"),
    "copy": pgettext_lazy("failed operation", "off-site copy"),
}


class BackupError(DomainError):
    """A backup operation was refused or failed; the message says why and what to do."""


class BackupElsewhere(BackupError):
    """The file is on another host: this one cannot judge it, and leaves its catalogue row as it is."""


# --- Files ---------------------------------------------------------------------------------


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


def held_here(backup: Backup) -> bool:
    """Whether this host can see ``backup``'s file: it wrote it (rows from before hosts were
    recorded count as ours), or a copy lies in its BACKUP_DIR (fetched, or a shared disk)."""
    return backup.host in ("", settings.BEILS_HOST) or backup_path(backup).exists()


def latest_good_here() -> Backup | None:
    """The newest good backup this host can read (the default of verify and the drill)."""
    return next((backup for backup in Backup.objects.good().order_by("-started_at") if held_here(backup)), None)


def check_held_here(backup: Backup) -> None:
    """Refuse (BackupElsewhere) to verify, restore, drill or prune a file another host holds:
    from here it only looks missing, and judging it would mark a good backup failed or pruned.
    Every machine shares the catalogue; each has its own BACKUP_DIR."""
    if not held_here(backup):
        raise BackupElsewhere(
            _(
                "%(file)s is on host %(host)s, not on this one (%(here)s): run this on %(host)s, or bring a "
                "copy here first (manage.py fetchbackup %(file)s). Its catalogue entry was left as it is."
            )
            % {"file": backup.file_name, "host": backup.host, "here": settings.BEILS_HOST}
        )


def catalogue_exists(alias: str) -> bool:
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
    "encrypted", "tables_requested", "tables", "migrations", "storage", "binlog", "ledger", "media", "host",
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
        raise BackupError(
            _("%(name)s has no manifest beside it, so no signature: it cannot be trusted.") % {"name": path.name}
        ) from exc
    except (ValueError, signing.SignatureError) as exc:
        raise BackupError(
            _(
                "The manifest of %(name)s fails its signature check (%(error)s): the file or its manifest was "
                "altered, or was signed with another key (see BACKUP_SIGNING_KEYS_OLD). Refused."
            )
            % {"name": path.name, "error": exc}
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
                _(
                    "The signed manifest of %(name)s gives another %(field)s than the catalogue "
                    "(%(signed)s, not %(catalogued)s): refused."
                )
                % {
                    "name": path.name,
                    "field": field,
                    "signed": repr(data.get(field)),
                    "catalogued": repr(getattr(backup, field)),
                }  # fmt: skip
            )
    return data


def restore_instructions(backup: Backup) -> str:
    """How to restore the file on a bare server with standard tools alone."""
    target = engine_class(backup.engine).restore_target
    if backup.encrypted:
        return f"age -d -i key.txt {backup.file_name} | gunzip | {target}"
    return f"gunzip < {backup.file_name} | {target}"


def catalogue_rescan(alias: str = DEFAULT_DB_ALIAS) -> int:
    """Bring the catalogue in line with the manifests on disk (after a restore replaced it, or
    on a new server). Returns how many rows were added.

    Only signed manifests are admitted, and a checksum the catalogue already holds is never
    replaced: a manifest that disagrees with it is reported (audited), not copied. Only this
    host's directory is read: rows of files other hosts hold are left as they are."""
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


def resolve(id_or_file: str | int, alias: str = DEFAULT_DB_ALIAS) -> Backup:
    """A catalogue row by id or file name, or, when the catalogue does not know it (an empty
    database on a new server, say), one rebuilt from the manifest beside the file. A path
    outside BACKUP_DIR is read where it is."""
    text = str(id_or_file)
    path = Path(text) if os.sep in text else backup_dir() / text
    if catalogue_exists(alias):
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
        _("No backup %(name)s: not in the catalogue and no manifest beside it (see manage.py listbackups).")
        % {"name": repr(text)}
    )


def backup_path(backup: Backup) -> Path:
    return getattr(backup, "location", None) or backup_dir() / backup.file_name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in read_chunks(handle):
            digest.update(chunk)
    return digest.hexdigest()


# --- Reporting --------------------------------------------------------------------------------


def report_failure(operation: str, backup: Backup, exc: BaseException, actor) -> None:
    audit_log(
        action=f"maintenance.backup.{operation}_failed", actor=actor, outcome=Outcome.FAILURE,
        target=backup if backup.pk else None, detail={"file": backup.file_name, "error": str(exc)[:2000]},
    )  # fmt: skip
    facts = {
        "operation": OPERATIONS.get(operation, operation), "name": backup.file_name, "error": exc,
        "when": date_format(timezone.localtime(), "SHORT_DATETIME_FORMAT"),
    }  # fmt: skip
    mail_admins(
        _("Beils: the %(operation)s of %(name)s failed") % facts,
        _(
            "The %(operation)s of %(name)s failed at %(when)s:\n\n%(error)s\n\n"
            "Older backups were not touched. See the maintenance dashboard and the audit trail."
        )
        % facts,
        fail_silently=True,
    )


def rpo_breached(*, now=None, latest: Backup | None = None) -> bool:
    """True when the last good backup (``latest``, looked up if not given) is older than the
    recovery point objective."""
    latest = latest or Backup.objects.latest_good()
    limit = timedelta(hours=settings.BACKUP_RPO_HOURS)
    return latest is None or (now or timezone.now()) - latest.started_at > limit
