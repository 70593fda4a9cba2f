"""The uploaded files in every backup: a second archive beside the dump, in the same signed
manifest, verified, copied off-site and restored with the database, through the storage API."""

import os
import shutil
import stat
import subprocess
import tarfile
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from backups.models import Backup
from backups.services import (
    BackupError,
    backup_create,
    backup_dir,
    backup_path,
    backup_restore,
    backup_verify,
    read_signed_manifest,
    sha256_of,
    write_manifest,
)
from crm.erasure import client_erase
from crm.models import Client
from tests.factories import ClientFactory, SignedConsentFactory

CONSENT, IMAGE, JOB = "consents/2026/signed.pdf", "products/lipstick.jpg", "jobs/3/export.csv"


@pytest.fixture
def uploads(transactional_db, settings, tmp_path):
    """A private media storage and backup directory, with a consent document, a product image
    and an export job's file in it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.ERASURE_LEDGER_PATH = tmp_path / "erasure-ledger.jsonl"
    settings.BACKUP_COPY_DIR, settings.BACKUP_S3_BUCKET = "", ""
    for name, content in ((CONSENT, b"%PDF-1.4 signed"), (IMAGE, b"\xff\xd8 jpeg"), (JOB, b"id,name\n")):
        default_storage.save(name, ContentFile(content))
    return settings


def archive_of(backup: Backup):
    return backup_path(backup).with_name(backup.media["file"])


def read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def test_a_backup_archives_the_uploaded_files_but_not_the_job_files_in_its_signed_manifest(uploads):
    backup = backup_create()

    archive = archive_of(backup)
    manifest = read_signed_manifest(backup_path(backup))
    assert manifest["media"] == Backup.objects.get(pk=backup.pk).media
    assert manifest["media"]["sha256"] == sha256_of(archive) and manifest["media"]["files"] == 2
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    with tarfile.open(archive, "r:gz") as tar:
        assert sorted(tar.getnames()) == [CONSENT, IMAGE]
        assert tar.extractfile(CONSENT).read() == b"%PDF-1.4 signed"


def test_a_full_restore_puts_the_files_back_through_the_storage(uploads):
    backup = backup_create()
    default_storage.delete(CONSENT)
    default_storage.delete(IMAGE)
    default_storage.save(IMAGE, ContentFile(b"another image"))

    call_command("restore", backup.file_name, "--noinput")

    assert read(CONSENT) == b"%PDF-1.4 signed" and read(IMAGE) == b"\xff\xd8 jpeg"
    assert sorted(default_storage.listdir("products")[1]) == ["lipstick.jpg"]  # replaced, not renamed


def test_an_encrypted_backup_encrypts_its_files_archive_too(uploads, settings):
    settings.BACKUP_ENCRYPTION_KEY = subprocess.run(["age-keygen"], capture_output=True, text=True).stdout
    backup = backup_create()
    assert archive_of(backup).name.endswith(".media.tar.gz.age")
    assert b"%PDF" not in archive_of(backup).read_bytes()
    default_storage.delete(CONSENT)

    backup_restore(backup)

    assert read(CONSENT) == b"%PDF-1.4 signed"


def test_verification_and_restore_refuse_a_damaged_or_missing_files_archive(uploads):
    backup = backup_create()
    archive = archive_of(backup)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))

    with pytest.raises(BackupError, match="files archive"):
        backup_verify(backup)
    assert Backup.objects.get(pk=backup.pk).verify_ok is False

    archive.unlink()
    default_storage.delete(CONSENT)
    with pytest.raises(BackupError, match="files archive .* is missing"):
        backup_restore(backup)
    assert not default_storage.exists(CONSENT)


def test_the_files_archive_goes_off_site_and_comes_back_when_the_disk_is_lost(uploads, settings, tmp_path):
    settings.BACKUP_COPY_DIR = tmp_path / "second-drive"
    backup = backup_create()
    call_command("copybackup", backup.file_name)
    shutil.rmtree(settings.BACKUP_DIR)
    shutil.rmtree(settings.MEDIA_ROOT)

    call_command("fetchbackup", backup.file_name)
    assert stat.S_IMODE(os.stat(archive_of(backup)).st_mode) == 0o600
    call_command("restore", backup.file_name, "--noinput")

    assert read(CONSENT) == b"%PDF-1.4 signed" and not default_storage.exists(JOB)


def test_a_backup_from_before_files_were_backed_up_restores_the_database_with_a_note(uploads, capsys):
    ClientFactory(name="Olga")
    backup = backup_create()
    archive_of(backup).unlink()
    backup.media = None
    write_manifest(backup, backup_dir())
    Backup.objects.filter(pk=backup.pk).update(media=None)
    Client.objects.all().delete()
    default_storage.delete(CONSENT)

    call_command("restore", backup.file_name, "--noinput")

    assert Client.objects.filter(name="Olga").exists()
    assert "taken before backups held the uploaded files" in capsys.readouterr().out
    assert not default_storage.exists(CONSENT)


def test_an_erased_clients_consent_document_does_not_come_back_with_a_restore(uploads, admin_user):
    erased = SignedConsentFactory(client__name="Xiomara", document=ContentFile(b"Xiomara's form", name="x.pdf"))
    kept = SignedConsentFactory(client__name="Bystander", document=ContentFile(b"kept form", name="k.pdf"))
    backup = backup_create()
    client_erase(client=erased.client, actor=admin_user)
    assert not default_storage.exists(erased.document.name)
    default_storage.delete(kept.document.name)

    backup_restore(backup)

    assert read(kept.document.name) == b"kept form"  # restored with the backup
    assert not default_storage.exists(erased.document.name)  # restored, then erased again by the replay
    assert not Client.all_objects.filter(name="Xiomara").exists()


@pytest.fixture
def s3_media(uploads, settings, s3_server):
    """STORAGES["default"] on an S3 bucket (django-storages), as with MEDIA_S3_BUCKET in production."""
    import boto3

    bucket = f"beils-media-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    options = {"bucket_name": bucket, "endpoint_url": s3_server, "location": "media", "default_acl": "private",
               "file_overwrite": False, "addressing_style": "path"}  # fmt: skip
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    shutil.rmtree(settings.MEDIA_ROOT)  # nothing on local disk: every file is read from the bucket
    default_storage.save(CONSENT, ContentFile(b"%PDF on S3"))
    default_storage.save(JOB, ContentFile(b"id\n"))
    return bucket


def test_files_on_s3_are_backed_up_and_restored_through_the_storage_api(s3_media):
    from storages.backends.s3 import S3Storage

    assert isinstance(default_storage._wrapped, S3Storage)
    backup = backup_create()
    assert backup.media["files"] == 1
    default_storage.delete(CONSENT)

    backup_restore(backup)

    assert read(CONSENT) == b"%PDF on S3"


def test_when_the_files_cannot_be_written_back_the_erasures_are_still_replayed(uploads, admin_user, monkeypatch):
    erased = ClientFactory(name="Xiomara")
    backup = backup_create()
    client_erase(client=erased, actor=admin_user)

    def storage_down(source, storage=None):
        raise OSError("the bucket is unreachable")

    monkeypatch.setattr("backups.services.media_restore", storage_down)
    with pytest.raises(BackupError, match="not the uploaded files: the bucket is unreachable"):
        backup_restore(backup)

    assert not Client.all_objects.filter(name="Xiomara").exists()


def test_verifybackup_reads_the_files_archive_with_the_dump(uploads, capsys):
    backup = backup_create()
    call_command("verifybackup", backup.file_name, "--json")
    assert '"files": 2' in capsys.readouterr().out
    call_command("verifybackup", backup.file_name)
    assert "2 uploaded files match the manifest" in capsys.readouterr().out
