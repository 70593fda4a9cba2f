"""Off-site copies against the real things: a second directory on disk and an S3 API over HTTP."""

import json
import os

import boto3
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEntry, Outcome
from backups import offsite
from backups.models import Backup, BackupStatus
from backups.offsite import backup_copy_offsite, fetch_from_offsite, offsite_configured
from backups.services import BackupError, backup_create, backup_path, sha256_of
from tests.backups.conftest import free_port


@pytest.fixture
def second_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_COPY_DIR = str(tmp_path / "second-drive")
    settings.BACKUP_S3_BUCKET = ""
    return tmp_path / "second-drive"


@pytest.fixture
def backup(db, second_dir):
    """A real backup of the test database, made the way production makes them."""
    return backup_create()


def s3_object(bucket, key):
    return boto3.client("s3", endpoint_url=_endpoint()).head_object(Bucket=bucket, Key=key)


def _endpoint():
    from django.conf import settings

    return settings.BACKUP_S3_ENDPOINT_URL


def leftovers(directory):
    return sorted(path.name for path in directory.rglob("*.partial")) if directory.exists() else []


def test_it_copies_the_file_and_its_manifest_to_the_second_directory_and_s3(backup, second_dir, s3_bucket):
    copies = backup_copy_offsite(backup)

    local = backup_path(backup)
    assert sha256_of(second_dir / backup.file_name) == backup.sha256 == sha256_of(local)
    copied_manifest = json.loads((second_dir / f"{backup.file_name}.json").read_text())
    assert copied_manifest["sha256"] == backup.sha256
    local_manifest = json.loads(local.with_name(f"{backup.file_name}.json").read_text())
    # The local manifest goes on to list the copies (and is signed again); everything else is the same document.
    assert {k: v for k, v in copied_manifest.items() if k not in ("storage", "signature")} == {
        k: v for k, v in local_manifest.items() if k not in ("storage", "signature")
    }
    assert [copy["kind"] for copy in local_manifest["storage"]] == ["local", "dir", "s3"]

    head = s3_object(s3_bucket, f"beils/{backup.file_name}")
    assert head["ContentLength"] == backup.size_bytes == local.stat().st_size
    assert head["Metadata"]["sha256"] == backup.sha256
    assert s3_object(s3_bucket, f"beils/{backup.file_name}.json")["Metadata"]["sha256"]

    backup.refresh_from_db()
    assert [copy["kind"] for copy in backup.storage] == ["local", "dir", "s3"]
    assert backup.storage[1:] == copies
    assert copies[1] == {"kind": "s3", "bucket": s3_bucket, "key": f"beils/{backup.file_name}", "endpoint": _endpoint()}
    entry = AuditEntry.objects.get(action="maintenance.backup.copied")
    assert entry.outcome == Outcome.SUCCESS and entry.target_id == str(backup.pk)
    assert entry.detail["targets"] == copies
    assert leftovers(second_dir) == []


def test_a_big_file_goes_up_in_parts_and_comes_back_whole(db, second_dir, s3_bucket, settings, monkeypatch):
    settings.BACKUP_COPY_DIR = ""
    monkeypatch.setattr(offsite, "MULTIPART_BYTES", 5 * 2**20)  # S3's smallest part
    big = Backup.objects.create(
        file_name="beils_big_20250101_030000.sqlite3.gz", status=BackupStatus.SUCCESS, engine="sqlite",
        database="big", finished_at=timezone.now(),
    )  # fmt: skip
    path = backup_path(big)
    path.write_bytes(os.urandom(12 * 2**20 + 123))
    big.size_bytes, big.sha256 = path.stat().st_size, sha256_of(path)
    big.save()

    backup_copy_offsite(big)
    head = s3_object(s3_bucket, f"beils/{big.file_name}")
    assert head["ContentLength"] == big.size_bytes
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    lose_local_copy(big)
    fetch_from_offsite(big.file_name, path.parent)

    assert sha256_of(path) == big.sha256


def test_copying_twice_lists_each_copy_once(backup, s3_bucket):
    backup_copy_offsite(backup)
    backup_copy_offsite(backup)

    backup.refresh_from_db()
    assert [copy["kind"] for copy in backup.storage] == ["local", "dir", "s3"]


def test_an_unreachable_s3_endpoint_fails_loudly_and_leaves_the_local_backup_alone(backup, second_dir, settings):
    settings.BACKUP_S3_BUCKET = "beils-offsite"
    settings.BACKUP_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    local = backup_path(backup)
    manifest_before = json.loads(local.with_name(f"{backup.file_name}.json").read_text())

    with pytest.raises(BackupError, match="S3 bucket beils-offsite at http://127.0.0.1"):
        backup_copy_offsite(backup)

    assert sha256_of(local) == backup.sha256
    manifest_after = json.loads(local.with_name(f"{backup.file_name}.json").read_text())
    assert (
        manifest_after["sha256"] == manifest_before["sha256"] and manifest_after["tables"] == manifest_before["tables"]
    )
    assert [copy["kind"] for copy in manifest_after["storage"]] == ["local", "dir"]  # S3 is not claimed
    failure = AuditEntry.objects.get(action="maintenance.backup.copy_failed")
    assert failure.outcome == Outcome.FAILURE and failure.target_id == str(backup.pk)
    assert "beils-offsite" in failure.detail["error"]
    # The working target was still copied and recorded.
    backup.refresh_from_db()
    assert [copy["kind"] for copy in backup.storage] == ["local", "dir"]
    assert sha256_of(second_dir / backup.file_name) == backup.sha256


def test_a_second_directory_under_a_regular_file_fails_cleanly(backup, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    settings.BACKUP_COPY_DIR = str(blocker / "copies")

    with pytest.raises(BackupError, match=f"second directory {blocker / 'copies'}"):
        backup_copy_offsite(backup)

    assert sha256_of(backup_path(backup)) == backup.sha256
    assert [path.name for path in tmp_path.rglob(f"*{backup.file_name}*") if "backups" not in path.parts] == []
    backup.refresh_from_db()
    assert backup.storage == [{"kind": "local", "path": str(backup_path(backup))}]
    assert AuditEntry.objects.filter(action="maintenance.backup.copy_failed", outcome=Outcome.FAILURE).count() == 1


def test_a_copy_that_cannot_take_its_final_name_leaves_no_partial_file(backup, second_dir):
    (second_dir / backup.file_name / "in-the-way").mkdir(parents=True)

    with pytest.raises(BackupError, match="second directory"):
        backup_copy_offsite(backup)

    assert leftovers(second_dir) == []
    assert not (second_dir / f"{backup.file_name}.json").exists()  # no manifest for a copy that is not there
    assert sha256_of(backup_path(backup)) == backup.sha256


def test_it_refuses_to_copy_a_damaged_or_unfinished_backup(backup, second_dir):
    with backup_path(backup).open("ab") as handle:
        handle.write(b"bit rot")
    with pytest.raises(BackupError, match="damaged"):
        backup_copy_offsite(backup)
    assert not second_dir.exists()

    with pytest.raises(BackupError, match="only good ones"):
        backup_copy_offsite(Backup(file_name="x.sqlite3.gz", status=BackupStatus.FAILED))


def test_it_needs_a_target(backup, settings):
    settings.BACKUP_COPY_DIR = ""
    assert not offsite_configured()
    with pytest.raises(BackupError, match="No off-site target"):
        backup_copy_offsite(backup)


# --- Disaster recovery ----------------------------------------------------------------------


def lose_local_copy(backup):
    path = backup_path(backup)
    path.unlink()
    path.with_name(f"{path.name}.json").unlink()
    return path


def test_it_fetches_a_lost_backup_back_from_s3(backup, settings, s3_bucket):
    settings.BACKUP_COPY_DIR = ""
    backup_copy_offsite(backup)
    path = lose_local_copy(backup)

    assert fetch_from_offsite(backup.file_name, path.parent) == path

    assert sha256_of(path) == backup.sha256
    assert json.loads(path.with_name(f"{path.name}.json").read_text())["sha256"] == backup.sha256
    assert leftovers(path.parent) == []
    assert AuditEntry.objects.get(action="maintenance.backup.fetched").detail["from"].startswith("S3 bucket")


def test_it_fetches_a_lost_backup_back_from_the_second_directory(backup, tmp_path):
    backup_copy_offsite(backup)
    lose_local_copy(backup)
    elsewhere = tmp_path / "new-server"

    path = fetch_from_offsite(backup.file_name, elsewhere)

    assert path == elsewhere / backup.file_name
    assert sha256_of(path) == backup.sha256
    assert (elsewhere / f"{backup.file_name}.json").exists()


def test_it_refuses_a_tampered_copy_in_the_second_directory(backup, second_dir):
    backup_copy_offsite(backup)
    path = lose_local_copy(backup)
    with (second_dir / backup.file_name).open("ab") as handle:
        handle.write(b"tampered")

    with pytest.raises(BackupError, match="refused"):
        fetch_from_offsite(backup.file_name, path.parent)

    assert not path.exists()
    assert not path.with_name(f"{path.name}.json").exists()
    assert leftovers(path.parent) == []
    assert AuditEntry.objects.get(action="maintenance.backup.fetch_failed").outcome == Outcome.FAILURE


def test_it_refuses_a_tampered_copy_on_s3(backup, settings, s3_bucket):
    settings.BACKUP_COPY_DIR = ""
    backup_copy_offsite(backup)
    path = lose_local_copy(backup)
    client = boto3.client("s3", endpoint_url=_endpoint())
    client.put_object(Bucket=s3_bucket, Key=f"beils/{backup.file_name}", Body=b"not the backup")

    with pytest.raises(BackupError, match="refused"):
        fetch_from_offsite(backup.file_name, path.parent)

    assert not path.exists()
    assert leftovers(path.parent) == []


def test_a_tampered_second_directory_falls_back_to_s3(backup, second_dir, s3_bucket):
    backup_copy_offsite(backup)
    path = lose_local_copy(backup)
    (second_dir / backup.file_name).write_bytes(b"tampered")

    fetch_from_offsite(backup.file_name, path.parent)

    assert sha256_of(path) == backup.sha256


def test_fetching_never_overwrites_a_file_that_is_there(backup):
    backup_copy_offsite(backup)
    with pytest.raises(BackupError, match="never overwritten"):
        fetch_from_offsite(backup.file_name, backup_path(backup).parent)
    with pytest.raises(BackupError, match="not a backup file name"):
        fetch_from_offsite(f"../{backup.file_name}", backup_path(backup).parent)


# --- Commands -------------------------------------------------------------------------------


def test_copybackup_copies_by_id_and_prints_json(backup, second_dir, capsys):
    call_command("copybackup", str(backup.pk), "--json")

    report = json.loads(capsys.readouterr().out)
    assert report == {"file": backup.file_name, "copies": [{"kind": "dir", "path": str(second_dir / backup.file_name)}]}


def test_copybackup_exits_non_zero_on_failure(backup, settings):
    settings.BACKUP_S3_BUCKET = "beils-offsite"
    settings.BACKUP_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="local backup was not touched"):
        call_command("copybackup", backup.file_name)
    with pytest.raises(CommandError, match="No backup"):
        call_command("copybackup", "nothing-like-it.sql.gz")


def test_fetchbackup_brings_a_lost_file_back(backup, tmp_path, capsys):
    call_command("copybackup", backup.file_name)
    lose_local_copy(backup)

    call_command("fetchbackup", backup.file_name, "--to", str(tmp_path / "restored"))

    assert sha256_of(tmp_path / "restored" / backup.file_name) == backup.sha256
    assert "manage.py restore" in capsys.readouterr().out
    with pytest.raises(CommandError, match="could not be fetched"):
        call_command("fetchbackup", "beils_missing.sqlite3.gz", "--to", str(tmp_path / "restored"))
