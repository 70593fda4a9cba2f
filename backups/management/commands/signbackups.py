import json

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from backups import signing
from backups.models import Backup
from backups.services import BackupError, backup_dir, resolve, sha256_of, write_manifest
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Sign the backup manifests in BACKUP_DIR again with the current BACKUP_SIGNING_KEY, after a key "
        "rotation: a manifest is re-signed only when its signature verifies with a key in "
        "BACKUP_SIGNING_KEYS_OLD, so nothing forged is ever blessed. --adopt-unsigned also signs manifests "
        "written before manifests were signed, when their file matches the manifest's SHA-256 and the "
        "catalogue records the same SHA-256. Once every manifest is re-signed, drop the old keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--adopt-unsigned", action="store_true", help="Also sign unsigned manifests (upgrade).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be signed, change nothing.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, adopt_unsigned, dry_run, **options):
        report = {"current": [], "resigned": [], "adopted": [], "refused": {}}
        for manifest in sorted(backup_dir().glob("*.json")):
            path = manifest.with_suffix("")
            try:
                outcome = self._one(path, json.loads(manifest.read_text()), adopt_unsigned, dry_run)
            except (ValueError, BackupError, signing.SignatureError) as exc:
                report["refused"][manifest.name] = str(exc)
                continue
            report[outcome].append(path.name)
        if options["json"]:
            self.stdout.write(json.dumps({"dry_run": dry_run, **report}, indent=2))
        else:
            counts = {key: len(report[key]) for key in ("resigned", "adopted", "current")}
            if dry_run:
                message = _(
                    "%(resigned)s manifest(s) would be signed again, %(adopted)s unsigned one(s) would be signed, "
                    "%(current)s already carry the current key."
                )
            else:
                message = _(
                    "%(resigned)s manifest(s) were signed again, %(adopted)s unsigned one(s) were signed, "
                    "%(current)s already carry the current key."
                )
            self.stdout.write(message % counts)
            for name, reason in report["refused"].items():
                self.stdout.write(
                    self.style.ERROR(_("  refused %(name)s: %(reason)s") % {"name": name, "reason": reason})
                )
        if report["refused"]:
            raise CommandError(
                _("%(count)s manifest(s) were left alone (see above).") % {"count": len(report["refused"])}
            )

    def _one(self, path, data, adopt_unsigned, dry_run) -> str:
        if data.get(signing.FIELD):
            if signing.verify(data) == 0:
                return "current"
            outcome = "resigned"
        elif adopt_unsigned:
            if not path.exists() or sha256_of(path) != data.get("sha256"):
                raise BackupError(_("its file is missing or does not match the manifest's SHA-256"))
            # The catalogue is the witness: an unsigned manifest it does not vouch for may have been
            # planted together with its file.
            known = Backup.objects.filter(file_name=path.name).first()
            if known is None or known.sha256 != data.get("sha256"):
                raise BackupError(_("the catalogue does not record this file with the manifest's SHA-256"))
            outcome = "adopted"
        else:
            raise BackupError(_("unsigned (written before manifests were signed): see --adopt-unsigned"))
        if not dry_run:
            # Re-written from the manifest's own contents (resolve rebuilds the row from it when
            # the catalogue does not know the file), signed with the current key.
            backup = Backup.objects.filter(file_name=path.name).first() or resolve(str(path))
            write_manifest(backup, path.parent)
        return outcome
