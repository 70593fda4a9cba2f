"""Two machines, one catalogue: each backup records the host that wrote it, and a host never
judges a file it cannot see. Two hosts are simulated with two BACKUP_DIRs and BEILS_HOST."""

import io
import shutil

import pytest
from django.core.management import CommandError, call_command

from backups.drill import restore_drill
from backups.models import Backup, BackupStatus, RestoreDrill
from backups.pruning import backup_prune
from backups.services import (
    BackupElsewhere,
    backup_create,
    backup_path,
    backup_restore,
    backup_verify,
    catalogue_rescan,
    read_manifest,
)
from crm.models import Client
from tests.factories import ClientFactory


@pytest.fixture
def two_hosts(transactional_db, settings, tmp_path):
    """Switch between host-1 and host-2, each with its own BACKUP_DIR (the database is shared)."""
    dirs = {name: tmp_path / name for name in ("host-1", "host-2")}

    def on(name: str) -> None:
        settings.BEILS_HOST, settings.BACKUP_DIR = name, dirs[name]

    settings.ERASURE_LEDGER_PATH = tmp_path / "erasure-ledger.jsonl"
    settings.BACKUP_COPY_DIR, settings.BACKUP_S3_BUCKET = "", ""
    on("host-1")
    return on


def good_backup_on_host_1(two_hosts) -> Backup:
    ClientFactory(name="Ofelia")
    backup = backup_verify(backup_create())
    two_hosts("host-2")
    return Backup.objects.get(pk=backup.pk)


def untouched(backup: Backup) -> bool:
    row = Backup.objects.get(pk=backup.pk)
    return row.status == BackupStatus.SUCCESS and row.verify_ok is True and backup_path(row).name == backup.file_name


def test_a_backup_records_the_host_that_wrote_it_in_the_catalogue_and_the_signed_manifest(two_hosts, settings):
    backup = backup_create()
    assert Backup.objects.get(pk=backup.pk).host == "host-1"
    assert read_manifest(backup_path(backup))["host"] == "host-1"
    out = io.StringIO()
    call_command("listbackups", stdout=out)
    header, line = out.getvalue().splitlines()[:2]
    assert "host" in header.split() and "host-1" in line.split()


def test_restoring_another_hosts_backup_names_that_host_and_does_not_mark_it_failed(two_hosts):
    backup = good_backup_on_host_1(two_hosts)
    with pytest.raises(CommandError, match="host-1") as refused:
        call_command("restore", str(backup.pk), "--noinput")
    assert "host-2" in str(refused.value)
    with pytest.raises(BackupElsewhere):
        backup_restore(backup)
    assert untouched(backup)
    assert Client.objects.filter(name="Ofelia").exists()


def test_verifying_or_drilling_another_hosts_backup_is_refused_and_records_nothing(two_hosts):
    backup = good_backup_on_host_1(two_hosts)
    with pytest.raises(CommandError, match="host-1"):
        call_command("verifybackup", str(backup.pk))
    with pytest.raises(CommandError, match="host-1"):
        call_command("verifybackup", str(backup.pk), "--restore-test")
    with pytest.raises(BackupElsewhere, match="host-1"):
        restore_drill(backup=backup)
    assert untouched(backup)
    assert not RestoreDrill.objects.exists()
    with pytest.raises(CommandError, match="no good backup"):
        call_command("restoredrill")  # the default is the newest good backup this host holds


def test_copying_another_hosts_backup_off_site_names_that_host(two_hosts, settings, tmp_path):
    backup = good_backup_on_host_1(two_hosts)
    settings.BACKUP_COPY_DIR = tmp_path / "second-drive"
    with pytest.raises(CommandError, match="host-1"):
        call_command("copybackup", backup.file_name)
    assert untouched(backup)


def test_pruning_leaves_another_hosts_backups_alone(two_hosts, settings):
    settings.BACKUP_KEEP_DAILY = settings.BACKUP_KEEP_WEEKLY = settings.BACKUP_KEEP_MONTHLY = 0
    settings.BACKUP_KEEP_YEARLY = 0
    old = backup_verify(backup_create())
    Backup.objects.filter(pk=old.pk).update(verify_ok=False)  # failed: pruned once a newer good one exists
    newer = backup_verify(backup_create())
    two_hosts("host-2")
    mine = backup_verify(backup_create())

    report = backup_prune()

    assert report.deleted == []
    assert Backup.objects.get(pk=old.pk).status == BackupStatus.SUCCESS
    assert "host-1" in report.reasons[old.file_name] and "host-1" in report.reasons[newer.file_name]
    assert Backup.objects.get(pk=mine.pk).status == BackupStatus.SUCCESS
    two_hosts("host-1")
    assert backup_path(old).exists()
    assert [b.pk for b in backup_prune().deleted] == [old.pk]  # its own host prunes it


def test_a_copy_brought_to_the_other_host_is_verified_there(two_hosts, settings):
    backup = good_backup_on_host_1(two_hosts)
    source = settings.BACKUP_DIR.parent / "host-1"
    settings.BACKUP_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in source.glob(f"{backup.file_name}*"):
        shutil.copy2(path, settings.BACKUP_DIR / path.name)
    backup_verify(backup)
    assert Backup.objects.get(pk=backup.pk).verify_ok is True


def test_the_rescan_on_one_host_leaves_the_other_hosts_rows_as_they_are(two_hosts):
    backup = good_backup_on_host_1(two_hosts)
    catalogue_rescan()
    assert untouched(backup)
    assert Backup.objects.get(pk=backup.pk).host == "host-1"
