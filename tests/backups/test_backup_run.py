"""One "back up" for every entry point (the schedule, the dashboard, the admin, the API, the
command): ``backup_run`` writes the file, copies it off-site when configured and verifies it.
Likewise ``optimise_run`` for optimising. Against the real dump tool and a real second directory."""

import pytest
from django.core.management import call_command

from audit.models import AuditEntry, Outcome
from backups.models import BackupKind, BackupStatus
from backups.services import BackupError, backup_run, sha256_of
from maintenance.optimise import optimise_run


@pytest.fixture
def second_dir(settings, tmp_path):
    settings.BACKUP_COPY_DIR = str(tmp_path / "second-drive")
    settings.BACKUP_S3_BUCKET = ""
    return tmp_path / "second-drive"


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, percent, message, *, force=False):
        self.calls.append((percent, message, force))

    @property
    def stages(self):
        return [message for _, message, force in self.calls if force]


def actions():
    return list(
        AuditEntry.objects.filter(action__startswith="maintenance.backup.")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_it_writes_copies_off_site_and_verifies_reporting_each_stage(db, second_dir, admin_user):
    progress = Recorder()

    backup = backup_run(kind=BackupKind.MANUAL, actor=admin_user, progress=progress)

    assert backup.status == BackupStatus.SUCCESS and backup.kind == BackupKind.MANUAL and backup.verify_ok is True
    assert sha256_of(second_dir / backup.file_name) == backup.sha256
    assert actions() == ["maintenance.backup.created", "maintenance.backup.copied", "maintenance.backup.verified"]
    assert progress.stages == ["Dumping the database", "Copying off-site", "Verifying the new file"]
    assert all(0 <= percent <= 95 for percent, _, _ in progress.calls)


def test_without_a_second_location_it_writes_and_verifies(db, settings):
    settings.BACKUP_COPY_DIR, settings.BACKUP_S3_BUCKET = "", ""

    backup = backup_run()

    assert backup.kind == BackupKind.SCHEDULED and backup.verify_ok is True
    assert actions() == ["maintenance.backup.created", "maintenance.backup.verified"]


def test_a_failed_off_site_copy_still_verifies_the_local_file_and_then_fails(db, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    settings.BACKUP_COPY_DIR, settings.BACKUP_S3_BUCKET = str(blocker / "copies"), ""

    with pytest.raises(BackupError, match="second directory"):
        backup_run()

    assert actions() == ["maintenance.backup.created", "maintenance.backup.copy_failed", "maintenance.backup.verified"]
    assert AuditEntry.objects.get(action="maintenance.backup.verified").outcome == Outcome.SUCCESS


def test_the_command_neither_copies_off_site_nor_verifies_unless_asked(db, second_dir, capsys):
    call_command("backup")
    call_command("backup", "--verify")

    assert actions() == ["maintenance.backup.created", "maintenance.backup.created", "maintenance.backup.verified"]
    assert not second_dir.exists()
    assert ", verified" in capsys.readouterr().out.splitlines()[-2]


def test_optimise_run_does_nothing_when_no_table_is_fragmented(transactional_db, settings):
    settings.OPTIMISE_MIN_FREE_BYTES = 2**62
    progress = Recorder()

    assert optimise_run(progress=progress) == {}

    assert not progress.calls and not AuditEntry.objects.filter(action__startswith="maintenance.optimise.").exists()


def test_optimise_run_optimises_the_tables_asked_for_and_says_so(transactional_db, admin_user):
    progress = Recorder()

    results = optimise_run(tables=["crm_client"], actor=admin_user, progress=progress)

    assert results and not any(message.startswith("error") for message in results.values())
    assert progress.stages == ["Optimising crm_client"]
    assert AuditEntry.objects.get(action="maintenance.optimise.done").actor == admin_user
