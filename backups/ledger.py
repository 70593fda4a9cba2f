"""The GDPR erasure ledger in every backup set.

A backup taken before an erasure still holds the person; the ledger (``crm.erasure``) is what
erases them again after a restore. So every backup set carries a copy of the ledger
(``FILE.ledger.jsonl``, its SHA-256 in the signed manifest): taken with the backup, refreshed
when the set is copied off-site (the ledger only grows, so the newest copy is the one to keep).

A restore replays the union of the live ledger and the set's copy, and refuses to run when that
union could bring someone back: the set's copy is missing or altered, there is no ledger at all,
or the installation's audit trail (which survives restores) records erasures the union lacks.
The operator may override it explicitly (``--without-ledger``); the override is audited.
"""

import os
import tempfile
from pathlib import Path

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEntry, Outcome
from audit.services import audit_log
from backups.catalogue import BackupError, backup_path, ledger_copy_path, sha256_of
from backups.models import Backup
from beils.lib.private import private_open


def ledger_snapshot(backup: Backup, path: Path) -> None:
    """Put the current erasure ledger beside the backup file ``path`` and record it in
    ``backup.ledger`` (file, SHA-256, entries), for the manifest to sign. A missing ledger (no
    erasure yet) gives an empty copy: the set then says, signed, that nobody was erased."""
    from crm.erasure import ledger_entries, ledger_line

    entries = ledger_entries()  # the file and the objects every machine shares: the union
    target = ledger_copy_path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    partial = Path(name)  # unique: a backup and an off-site copy may refresh it at once
    try:
        with private_open(partial, "w") as copy:
            copy.writelines(ledger_line(entry) + "\n" for entry in entries)
            copy.flush()
            os.fsync(copy.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    backup.ledger = {
        "file": target.name, "sha256": sha256_of(target), "entries": len(entries),
        "taken_at": timezone.now().isoformat(),
    }  # fmt: skip
    if backup.pk:
        Backup.objects.filter(pk=backup.pk).update(ledger=backup.ledger)


def ledger_for_restore(backup: Backup, *, without_ledger: bool = False, actor=None) -> Path | None:
    """The set's ledger copy (to be merged into the live ledger before the replay), or None
    when the set has none and the live ledger is complete on its own. Raises BackupError when
    the replay could bring erased people back, unless ``without_ledger`` (audited)."""
    copy, problem = _set_copy(backup)
    if problem is None:
        problem = _lacking(copy)
    if problem is None:
        return copy
    audit_log(
        action="maintenance.backup.ledger_overridden" if without_ledger else "maintenance.backup.ledger_refused",
        actor=actor, outcome=Outcome.FAILURE, target=backup if backup.pk else None,
        detail={"file": backup.file_name, "error": problem, "overridden": without_ledger},
    )  # fmt: skip
    if without_ledger:
        return copy
    raise BackupError(
        _(
            "%(file)s: %(problem)s. Restoring it could bring back clients erased since it was taken, so it was "
            "not restored. Fetch it again with its ledger (manage.py fetchbackup), put the newest ledger at "
            "ERASURE_LEDGER_PATH, or restore with --without-ledger and replay a ledger by hand (manage.py gdpr_replay)."
        )
        % {"file": backup.file_name, "problem": problem}
    )


def _set_copy(backup: Backup) -> tuple[Path | None, str | None]:
    """The set's checked ledger copy, or why there is none to use."""
    from crm.erasure import ledger_entries, ledger_path

    if not backup.ledger:
        if ledger_path().is_file() or ledger_entries():
            return None, None  # a set from before ledgers travelled: the live ledger is the one
        return None, _(
            "it carries no erasure ledger (it was taken before backups carried one) and this installation has "
            "none at %(path)s"
        ) % {"path": ledger_path()}
    path = ledger_copy_path(backup_path(backup))
    if not path.is_file():
        return None, _("its erasure ledger copy %(name)s is missing") % {"name": path.name}
    if sha256_of(path) != backup.ledger.get("sha256"):
        return None, _("its erasure ledger copy %(name)s does not match the SHA-256 in the signed manifest") % {
            "name": path.name
        }
    return path, None


def _lacking(copy: Path | None) -> str | None:
    """Why the union of the live ledger and ``copy`` is older than this installation, if it is:
    the audit trail records an erasure (``crm.client.erased``) that neither names."""
    from crm.erasure import ERASED_ACTION, ErasureError, ledger_entries

    if AuditEntry._meta.db_table not in connection.introspection.table_names():
        return None  # an empty database on a new server: no trail to compare with
    try:
        known = {entry.client_id for entry in ledger_entries() + (ledger_entries(copy) if copy else [])}
    except ErasureError as exc:
        return str(exc)
    recorded = AuditEntry.objects.filter(action=ERASED_ACTION).values_list("target_id", flat=True)
    missing = sorted({int(pk) for pk in recorded if pk and pk.isdigit()} - known)
    if not missing:
        return None
    return _(
        "the erasure ledger it would use is older than this installation's: the audit trail records the "
        "erasure of client(s) %(ids)s, which neither the live ledger nor the backup's copy holds"
    ) % {"ids": ", ".join(map(str, missing[:20]))}
