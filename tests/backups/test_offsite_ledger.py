"""The erasure ledger travels with every off-site copy and comes back with it: a backup taken
before an erasure, restored on a server that lost its disk, must not bring the person back."""

import os
import shutil
import stat
from pathlib import Path

import boto3
import pytest
from django.core.management import CommandError, call_command

from backups.services import backup_create, backup_path
from crm.erasure import client_erase, ledger_entries
from crm.models import Client
from tests.factories import ClientFactory


@pytest.fixture
def lost_disk(transactional_db, settings, tmp_path, s3_bucket):
    """Backups and the ledger on one disk (the default layout), an S3 bucket off-site."""
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.ERASURE_LEDGER_PATH = tmp_path / "backups" / "erasure-ledger.jsonl"
    settings.BACKUP_COPY_DIR = ""
    return s3_bucket


def lose_the_disk(settings) -> None:
    """The machine's disk is gone: the backups, and both homes of the live ledger (its file, and
    the media folder holding the shared copy on a one-machine installation)."""
    shutil.rmtree(settings.BACKUP_DIR)
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


def erase_after_a_backup(admin_user):
    erased, kept = ClientFactory(name="Xiomara"), ClientFactory(name="Bystander")
    backup = backup_create()
    client_erase(client=erased, actor=admin_user)
    return backup, erased, kept


def test_an_erasure_after_the_backup_survives_losing_the_disk_and_restoring_from_s3(lost_disk, admin_user, settings):
    backup, erased, kept = erase_after_a_backup(admin_user)
    call_command("copybackup", backup.file_name)
    lose_the_disk(settings)

    call_command("fetchbackup", backup.file_name)
    path = backup_path(backup)
    for fetched in (path, Path(f"{path}.json"), Path(f"{path}.ledger.jsonl")):
        assert stat.S_IMODE(os.stat(fetched).st_mode) == 0o600, fetched.name
    call_command("restore", backup.file_name, "--noinput")

    back = Client.all_objects.filter(pk=erased.pk).first()
    assert back is None or back.erased_at is not None
    assert not Client.all_objects.filter(name="Xiomara").exists()
    assert Client.all_objects.filter(pk=kept.pk, name="Bystander").exists()
    assert [entry.client_id for entry in ledger_entries()] == [erased.pk]  # the live ledger has it again


def test_a_backup_fetched_without_its_ledger_is_refused_unless_the_operator_says_so(lost_disk, admin_user, settings):
    backup, erased, _ = erase_after_a_backup(admin_user)
    call_command("copybackup", backup.file_name)
    lose_the_disk(settings)
    boto3.client("s3", endpoint_url=settings.BACKUP_S3_ENDPOINT_URL).delete_object(
        Bucket=lost_disk, Key=f"beils/{backup.file_name}.ledger.jsonl"
    )

    with pytest.raises(CommandError, match="ledger"):
        call_command("fetchbackup", backup.file_name)
    assert not backup_path(backup).exists()

    call_command("fetchbackup", backup.file_name, "--without-ledger")
    with pytest.raises(CommandError, match="ledger"):
        call_command("restore", backup.file_name, "--noinput")
    assert Client.all_objects.filter(pk=erased.pk).first() is None

    call_command("restore", backup.file_name, "--noinput", "--without-ledger")
    assert Client.all_objects.filter(pk=erased.pk, name="Xiomara").exists()  # what the operator chose
