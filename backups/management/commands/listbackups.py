import json
from pathlib import Path

from django.db import DatabaseError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backups.models import Backup, BackupKind, BackupStatus
from backups.services import backup_dir
from beils.lib.commands import OperatorCommand

VERIFIED = {"yes": gettext_lazy("yes"), "FAILED": gettext_lazy("FAILED"), "no": gettext_lazy("no")}
COLUMNS = ["id", "started_at", "kind", "status", "size_bytes", "verified", "file_name", "sha256"]


class Command(OperatorCommand):
    help = (
        "List the backup catalogue, newest first: id, time, kind, size, checksum, status and whether "
        "it passed verification. With --from-manifests (or when the database is unreachable) the list "
        "is read from the JSON manifests beside the files, so it works when the database is gone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print JSON for scripts.")
        parser.add_argument("--from-manifests", action="store_true", help="Read the manifests in BACKUP_DIR.")

    def handle(self, *args, from_manifests, **options):
        rows = None
        if not from_manifests:
            try:
                rows = [self.row(b) for b in Backup.objects.order_by("-started_at")]
            except DatabaseError as exc:
                self.stderr.write(
                    _("The catalogue is unreachable (%(error)s); reading the manifests instead.") % {"error": exc}
                )
        if rows is None:
            rows = self.from_manifests(backup_dir())
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2, default=str))
            return
        if not rows:
            self.stdout.write(_("No backups yet. Take one with: manage.py backup"))
            return
        # For people; scripts read --json, whose keys and values stay as they are.
        heads = [_("id"), _("started"), _("kind"), _("status"), _("size"), _("verified"), _("host"), _("file")]
        self.stdout.write(
            f"{heads[0]:>5}  {heads[1]:<19}  {heads[2]:<11}  {heads[3]:<8}  {heads[4]:>10}  {heads[5]:<8}  "
            f"{heads[6]:<16}  {heads[7]}"
        )
        for r in rows:
            size = f"{number_format(r['size_bytes'] / 2**20, 1)} MiB" if r["size_bytes"] else "-"
            self.stdout.write(
                f"{r['id'] or '-':>5}  {_when(r['started_at']):<19}  {_label(BackupKind, r['kind']):<11}  "
                f"{_label(BackupStatus, r['status']):<8}  {size:>10}  {VERIFIED.get(r['verified'], r['verified']):<8}  "
                f"{(r.get('host') or '-')[:16]:<16}  {r['file_name']}"
            )

    @staticmethod
    def row(backup: Backup) -> dict:
        verified = {True: "yes", False: "FAILED", None: "no"}[backup.verify_ok]
        return {
            "id": backup.pk, "started_at": backup.started_at, "kind": backup.kind, "status": backup.status,
            "size_bytes": backup.size_bytes, "verified": verified, "file_name": backup.file_name, "sha256": backup.sha256,
            "restore_tested_at": backup.restore_tested_at, "tables_requested": backup.tables_requested,
            "host": backup.host, "files": (backup.media or {}).get("files"),
        }  # fmt: skip

    @staticmethod
    def from_manifests(directory: Path) -> list[dict]:
        rows = []
        for manifest in directory.glob("*.json"):
            data = json.loads(manifest.read_text())
            present = (directory / data["file_name"]).exists()
            rows.append({
                "id": None, "started_at": data["started_at"], "kind": data["kind"],
                "status": data["status"] if present else "MISSING", "size_bytes": data["size_bytes"],
                "verified": "-", "file_name": data["file_name"], "sha256": data["sha256"],
                "restore_tested_at": None, "tables_requested": data.get("tables_requested", []),
                "host": data.get("host", ""), "files": (data.get("media") or {}).get("files"),
            })  # fmt: skip
        return sorted(rows, key=lambda r: r["started_at"], reverse=True)


def _label(choices, value: str) -> str:
    """The status or kind as people read it ("Correcta"); a value the choices lack as it is."""
    if value == "MISSING":  # a manifest whose file is gone (--from-manifests)
        return _("MISSING")
    return str(choices(value).label) if value in choices.values else value


def _when(value) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return str(value)[:19]
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return date_format(moment, "SHORT_DATETIME_FORMAT")
