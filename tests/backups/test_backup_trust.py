"""Backups that cannot be forged, credentials that survive hostile passwords, private files.

Against the real things: MariaDB accounts, mariadb-dump and mariadb reading the option file,
gzip. These tests use ``transactional_db``: mariadb-dump reads committed data from its own session.
"""

import gzip
import hashlib
import json
import os
import re
import stat
from datetime import date
from pathlib import Path

import MySQLdb
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection

from audit.models import AuditEntry
from backups.engines import MariaDBEngine
from backups.models import Backup
from backups.pipeline import DumpInspector
from backups.services import (
    BackupError,
    backup_create,
    backup_path,
    backup_restore,
    backup_verify,
    catalogue_rescan,
    read_manifest,
)
from crm.erasure import ledger_append, ledger_path
from crm.models import Client
from demo.services import demo_data_seed
from tests.backups.test_backup import mariadb, mariadb_only, server_params


@pytest.fixture
def salon(transactional_db):
    demo_data_seed(clients=5, random_seed=5)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def forge(backup: Backup, name: str | None = None) -> Path:
    """What an intruder with write access to BACKUP_DIR does: change a client's name in the dump
    and write a manifest whose checksums (file and per table) match the altered dump."""
    source = backup_path(backup)
    text = gzip.decompress(source.read_bytes())
    victim = Client.all_objects.order_by("pk").first()
    assert victim.name.encode() in text
    forged = gzip.compress(text.replace(victim.name.encode(), b"Forged", 1))
    inspector = DumpInspector()
    inspector.feed(gzip.decompress(forged))
    stats = inspector.close()
    target = source.with_name(name or source.name)
    target.write_bytes(forged)
    manifest = read_manifest(source)
    manifest.update(
        file_name=target.name, sha256=hashlib.sha256(forged).hexdigest(), size_bytes=len(forged), tables=stats.tables
    )
    Path(f"{target}.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return target


# --- 1. Signed manifests --------------------------------------------------------------------------


@mariadb_only
def test_it_refuses_to_verify_or_restore_a_forged_file_and_manifest(salon):
    backup = backup_create()
    planted = forge(backup, name=backup.file_name.replace(".sql.gz", "_2.sql.gz"))

    with pytest.raises(CommandError, match="signature"):
        call_command("verifybackup", planted.name, "--restore-test")
    with pytest.raises(CommandError, match="signature"):
        call_command("restore", planted.name, "--noinput")

    assert not Client.all_objects.filter(name="Forged").exists()
    refused = AuditEntry.objects.filter(action="maintenance.backup.verification_failed")
    assert refused.exists() and "signature" in refused.first().detail["error"]


@mariadb_only
def test_a_rescan_never_copies_a_forged_checksum_into_the_catalogue(salon):
    backup = backup_create()
    forge(backup)

    catalogue_rescan()

    assert Backup.objects.get(pk=backup.pk).sha256 == backup.sha256
    assert AuditEntry.objects.filter(action="maintenance.backup.manifest_refused").exists()
    with pytest.raises(BackupError, match="signature"):
        backup_verify(Backup.objects.get(pk=backup.pk))
    assert Backup.objects.get(pk=backup.pk).verify_ok is not True


@mariadb_only
def test_a_rescan_reports_a_validly_signed_manifest_whose_checksum_differs_and_keeps_the_recorded_one(salon):
    from backups.services import write_manifest

    backup = backup_create()
    other = Backup.objects.get(pk=backup.pk)
    other.sha256 = "0" * 64
    write_manifest(other, backup_path(backup).parent)  # signed with the real key: e.g. a stolen key

    catalogue_rescan()

    assert Backup.objects.get(pk=backup.pk).sha256 == backup.sha256
    assert AuditEntry.objects.filter(action="maintenance.backup.manifest_refused").exists()


@mariadb_only
def test_a_manifest_signed_with_a_rotated_key_verifies_while_the_key_is_in_the_old_list(salon, settings):
    settings.BACKUP_SIGNING_KEY = "the-key-of-last-year"
    backup = backup_create()
    settings.BACKUP_SIGNING_KEY = "the-key-of-this-year"

    with pytest.raises(BackupError, match="signature"):
        backup_verify(backup)

    settings.BACKUP_SIGNING_KEYS_OLD = ["something-else", "the-key-of-last-year"]
    assert backup_verify(backup).verify_ok is True


def test_the_default_signing_key_is_derived_from_but_not_the_secret_key(settings):
    from backups import signing

    settings.BACKUP_SIGNING_KEY = ""
    assert signing.current_key() not in (settings.SECRET_KEY, settings.SECRET_KEY.encode())
    settings.SECRET_KEY = settings.SECRET_KEY + "-other"
    first = signing.current_key()
    settings.SECRET_KEY = settings.SECRET_KEY + "-again"
    assert signing.current_key() != first


@mariadb_only
def test_a_manifest_without_a_signature_is_refused(salon):
    backup = backup_create()
    manifest = Path(f"{backup_path(backup)}.json")
    data = json.loads(manifest.read_text())
    data.pop("signature")
    manifest.write_text(json.dumps(data))
    with pytest.raises(BackupError, match="signature"):
        backup_verify(backup)


# --- 2. Hostile database passwords -----------------------------------------------------------------

HOSTILE = [
    "pa#ss word;x=1",
    'it\'s "quoted" \\back\\slash\\',
    " lead#ing and trailing ",
    "=;#'\"\\",
]


@pytest.fixture
def hostile_account(request, transactional_db):
    """A real MariaDB account with a hostile password and every right on the test database (and
    the scratch databases named after it), used by Django and the backup engine; dropped after."""
    database = connection.settings_dict["NAME"]
    user = f"{database}_h{request.param_index}"[:80]
    password = request.param
    root = {k: v for k, v in server_params().items() if k != "database"}
    with MySQLdb.connect(**root) as db:
        cursor = db.cursor()
        cursor.execute("DROP USER IF EXISTS %s@'%%'", [user])
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", [user, password])
        cursor.execute(f"GRANT ALL PRIVILEGES ON `{database}%%`.* TO %s@'%%'", [user])
    saved = {key: connection.settings_dict[key] for key in ("USER", "PASSWORD")}
    connection.close()
    connection.settings_dict.update(USER=user, PASSWORD=password)
    try:
        yield user
    finally:
        connection.close()
        connection.settings_dict.update(saved)
        # A restore through the account made the triggers its own: make them root's again
        # before the account goes, or every later write to their tables fails (error 1449).
        engine = MariaDBEngine()
        for statement in engine.trigger_statements(database):
            name = re.search(r"TRIGGER\s+`?(\w+)", statement).group(1)
            engine.execute(f"DROP TRIGGER `{name}`")
            engine.execute(statement)
        with MySQLdb.connect(**root) as db:
            db.cursor().execute("DROP USER IF EXISTS %s@'%%'", [user])


@mariadb_only
@pytest.mark.parametrize("hostile_account", HOSTILE, indirect=True)
def test_backup_verify_and_restore_work_through_an_account_with_a_hostile_password(hostile_account):
    demo_data_seed(clients=3, random_seed=3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
        assert cursor.fetchone()[0] == hostile_account

    backup = backup_create()
    assert backup_verify(backup, restore_test=True).verify_ok is True
    Client.all_objects.update(notes="changed after the backup")
    backup_restore(backup, safety_backup=False)

    assert not Client.all_objects.filter(notes="changed after the backup").exists()
    # The database's own rules came back with the tables (triggers owned by this account).
    with pytest.raises(IntegrityError):
        Client.all_objects.filter(pk=Client.all_objects.first().pk).update(birth_date=date(2999, 1, 1))


# --- 3. Credentials files --------------------------------------------------------------------------


@mariadb_only
def test_credentials_files_are_private_under_var_and_removed_after_use(settings, db):
    engine = MariaDBEngine()
    engine.settings = {**engine.settings, "PASSWORD": "s3cret#pass"}
    with engine.option_file() as path:
        path = Path(path)
        assert path.parent == Path(settings.VAR_DIR) / "credentials"
        assert re.fullmatch(rf"{os.getpid()}-[A-Za-z0-9_-]+\.cnf", path.name)
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
        assert 'password="s3cret#pass"' in path.read_text()
    assert not path.exists()


def test_the_age_identity_file_is_private_under_var_and_removed_after_use(settings):
    from backups import crypto

    settings.BACKUP_ENCRYPTION_KEY = "AGE-SECRET-KEY-1" + "Q" * 58
    settings.BACKUP_ENCRYPTION_KEY_FILE = ""
    if not crypto.shutil.which("age"):
        pytest.skip("age is not installed")
    with crypto.decrypt_stage() as command:
        path = Path(command[-1])
        assert path.parent == Path(settings.VAR_DIR) / "credentials"
        assert re.fullmatch(rf"{os.getpid()}-[A-Za-z0-9_-]+\.cnf", path.name)
        assert mode(path) == 0o600
    assert not path.exists()


# --- 4. Private files ------------------------------------------------------------------------------


def test_backups_manifests_and_the_ledger_are_private(transactional_db, settings):
    backup = backup_create()
    path = backup_path(backup)
    assert mode(path) == 0o600
    assert mode(f"{path}.json") == 0o600
    assert mode(path.parent) == 0o700

    ledger_append(client_id=1, client_created_at=Client(pk=1).created_at or backup.started_at)
    assert mode(ledger_path()) == 0o600


def test_a_partial_backup_file_is_private_while_it_is_written(transactional_db, settings, monkeypatch):
    from backups import services

    seen = []
    real_replace = services.os.replace

    def spy(source, target):
        seen.append(mode(source))
        return real_replace(source, target)

    monkeypatch.setattr(services.os, "replace", spy)
    backup_create()
    assert seen and set(seen) == {0o600}


def test_uploaded_files_and_job_files_are_private(settings, tmp_path, admin_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from transfer.jobs import job_import_create
    from transfer.resources.crm import ClientResource

    settings.MEDIA_ROOT = tmp_path / "media"
    uploaded = default_storage.save("consents/2026/signed.pdf", ContentFile(b"personal data"))
    upload = SimpleUploadedFile("clients.csv", b"name,surname\nAna,Ruiz\n", content_type="text/csv")
    job = job_import_create(resource_class=ClientResource, file_format="csv", upload=upload, actor=admin_user)
    for name in (uploaded, job.input_name):
        path = Path(default_storage.path(name))
        assert mode(path) == 0o600, name
        assert mode(path.parent) == 0o700, name


def test_a_gdpr_export_written_to_a_file_is_private(db, tmp_path):
    from tests.factories import ClientFactory

    client = ClientFactory()
    call_command("gdpr_export", str(client.pk), "-o", str(tmp_path / "subject.json"))
    assert mode(tmp_path / "subject.json") == 0o600


# --- 6. Small ones ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["verifybackup", "restoredrill", "restore", "copybackup"])
def test_commands_given_an_unknown_backup_say_so_and_exit_non_zero(db, command):
    arguments = [command, "987654"] + (["--noinput"] if command == "restore" else [])
    with pytest.raises(CommandError, match="No backup"):
        call_command(*arguments)


def test_a_partial_backup_on_sqlite_is_refused_before_anything_is_written(transactional_db, settings):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite engine")
    with pytest.raises(CommandError, match="MariaDB"):
        call_command("backup", "--tables", "crm_client")
    assert not Backup.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="maintenance.backup").exists()
    assert not list(Path(settings.BACKUP_DIR).glob("*")) if Path(settings.BACKUP_DIR).exists() else True


@mariadb_only
def test_verification_state_survives_a_restore(salon):
    first = backup_create()
    second = backup_create()
    backup_verify(first, restore_test=True)
    backup_verify(second)
    before = {b.file_name: (b.verify_ok, b.verified_at, b.restore_tested_at) for b in Backup.objects.all()}

    backup_restore(first, safety_backup=False)

    after = {b.file_name: (b.verify_ok, b.verified_at, b.restore_tested_at) for b in Backup.objects.all()}
    assert after == before
    assert mariadb(connection.settings_dict["NAME"], "SELECT COUNT(*) FROM maintenance_backup")[0][0] == 2


@mariadb_only
def test_signbackups_re_signs_old_key_manifests_and_adopts_unsigned_ones_only_when_their_file_matches(salon, settings):
    settings.BACKUP_SIGNING_KEY = "the-key-of-last-year"
    rotated = backup_create()
    unsigned = backup_create()
    manifest = Path(f"{backup_path(unsigned)}.json")
    data = json.loads(manifest.read_text())
    data.pop("signature")
    manifest.write_text(json.dumps(data))
    planted = forge(rotated, name=rotated.file_name.replace(".sql.gz", "_9.sql.gz"))
    Path(f"{planted}.json").write_text(
        json.dumps({k: v for k, v in json.loads(Path(f"{planted}.json").read_text()).items() if k != "signature"})
    )
    settings.BACKUP_SIGNING_KEY = "the-key-of-this-year"
    settings.BACKUP_SIGNING_KEYS_OLD = ["the-key-of-last-year"]
    Backup.objects.filter(pk=unsigned.pk).update(sha256="f" * 64)  # the catalogue knows better

    with pytest.raises(CommandError, match="left alone"):
        call_command("signbackups", "--adopt-unsigned")

    settings.BACKUP_SIGNING_KEYS_OLD = []
    assert backup_verify(Backup.objects.get(pk=rotated.pk)).verify_ok is True
    with pytest.raises(BackupError, match="signature"):
        backup_verify(Backup.objects.get(pk=unsigned.pk))
    assert "signature" not in json.loads(Path(f"{planted}.json").read_text())
