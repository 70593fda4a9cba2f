"""Every backup set carries the erasure ledger as it was when it was taken, signed in its
manifest; a restore replays the union of that copy and the live ledger, and refuses to run when
no ledger is there or the one it would use is older than the installation's audit trail."""

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEntry
from backups.models import Backup
from backups.services import (
    BackupError,
    backup_create,
    backup_dir,
    backup_path,
    backup_restore,
    ledger_copy_path,
    read_signed_manifest,
    sha256_of,
    write_manifest,
)
from crm.erasure import client_erase, ledger_entries, ledger_path
from crm.models import Client
from tests.factories import ClientFactory


@pytest.fixture
def backups(transactional_db, settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.ERASURE_LEDGER_PATH = tmp_path / "ledger" / "erasure-ledger.jsonl"
    settings.BACKUP_COPY_DIR, settings.BACKUP_S3_BUCKET = "", ""


def as_before_ledgers(backup: Backup) -> Backup:
    """The set as a backup taken before sets carried a ledger: no copy, none in the manifest."""
    ledger_copy_path(backup_path(backup)).unlink()
    backup.ledger = None
    write_manifest(backup, backup_dir())
    Backup.objects.filter(pk=backup.pk).update(ledger=None)
    return backup


def ledger_lost() -> None:
    """Both homes of the live ledger gone or older: the file, and the objects in the shared storage."""
    from django.core.files.storage import default_storage

    from crm.erasure import SHARED_LEDGER

    ledger_path().write_text("")
    if default_storage.exists(SHARED_LEDGER):
        for name in default_storage.listdir(SHARED_LEDGER)[1]:
            default_storage.delete(f"{SHARED_LEDGER}/{name}")


def erased_or_gone(client) -> bool:
    row = Client.all_objects.filter(pk=client.pk).first()
    return row is None or row.erased_at is not None


def test_every_backup_carries_the_ledger_as_it_was_signed_in_its_manifest(backups, admin_user):
    client_erase(client=ClientFactory(), actor=admin_user)
    backup = backup_create()
    client_erase(client=ClientFactory(), actor=admin_user)  # after the backup: not in its copy

    copy = ledger_copy_path(backup_path(backup))
    manifest = read_signed_manifest(backup_path(backup))
    assert manifest["ledger"]["sha256"] == sha256_of(copy) == Backup.objects.get(pk=backup.pk).ledger["sha256"]
    assert manifest["ledger"]["entries"] == 1
    assert ledger_entries(copy) == ledger_entries()[:1]


def test_a_restore_is_refused_when_the_ledger_lacks_an_erasure_the_audit_trail_records(backups, admin_user):
    erased = ClientFactory(name="Xiomara")
    backup = backup_create()
    client_erase(client=erased, actor=admin_user)
    ledger_lost()  # an older ledger put back (a disk image from before the erasure, say)

    with pytest.raises(BackupError, match=f"older than this installation's.*{erased.pk}"):
        backup_restore(backup)
    with pytest.raises(CommandError, match="--without-ledger"):
        call_command("restore", backup.file_name, "--noinput")
    assert erased_or_gone(erased)  # nothing was restored
    assert AuditEntry.objects.filter(action="maintenance.backup.ledger_refused").count() == 2

    backup_restore(backup, without_ledger=True, actor=admin_user)  # the operator's explicit choice

    assert Client.all_objects.filter(pk=erased.pk, name="Xiomara").exists()
    overridden = AuditEntry.objects.get(action="maintenance.backup.ledger_overridden")
    assert overridden.actor == admin_user and overridden.detail["overridden"] is True


def test_a_lost_ledger_file_is_made_good_by_the_shared_copy(backups, admin_user):
    """The erasure was made on another machine (or this one's ledger file was lost): the object
    every machine shares still names it, so the restore runs and the person stays erased."""
    erased = ClientFactory(name="Xiomara")
    backup = as_before_ledgers(backup_create())
    client_erase(client=erased, actor=admin_user)
    ledger_path().write_text("")

    backup_restore(backup)

    assert erased_or_gone(erased)
    assert not Client.all_objects.filter(name="Xiomara").exists()


def test_a_backup_from_before_ledgers_with_no_live_ledger_restores_only_when_told_so(backups, admin_user):
    ClientFactory(name="Olga")
    backup = as_before_ledgers(backup_create())
    Client.objects.all().delete()
    ledger_path().unlink(missing_ok=True)

    with pytest.raises(CommandError, match="carries no erasure ledger"):
        call_command("restore", backup.file_name, "--noinput")
    assert not Client.objects.filter(name="Olga").exists()

    call_command("restore", backup.file_name, "--noinput", "--without-ledger")
    assert Client.objects.filter(name="Olga").exists()
    assert AuditEntry.objects.filter(action="maintenance.backup.ledger_overridden").exists()


def test_a_backup_from_before_ledgers_restores_with_the_live_ledger(backups, admin_user):
    erased = ClientFactory(name="Xiomara")
    backup = as_before_ledgers(backup_create())
    client_erase(client=erased, actor=admin_user)

    backup_restore(backup)

    assert erased_or_gone(erased)


def test_the_replay_uses_the_union_of_the_live_ledger_and_the_sets_copy(backups, admin_user, settings, tmp_path):
    first, second = ClientFactory(name="Xiomara"), ClientFactory(name="Yolanda")
    backup = backup_create()
    client_erase(client=first, actor=admin_user)
    settings.BACKUP_COPY_DIR = tmp_path / "offsite"
    call_command("copybackup", backup.file_name)  # the set's copy now knows the first erasure
    ledger_lost()  # the live ledger is lost (file and shared copy)...
    client_erase(client=second, actor=admin_user)  # ...and starts again with the second

    backup_restore(Backup.objects.get(pk=backup.pk))

    assert erased_or_gone(first) and erased_or_gone(second)
    assert not Client.all_objects.filter(name__in=["Xiomara", "Yolanda"]).exists()
    assert {entry.client_id for entry in ledger_entries()} == {first.pk, second.pk}
