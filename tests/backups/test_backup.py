"""The backup engine against the real thing: MariaDB, mariadb-dump, pigz/gzip, age.

These tests use ``transactional_db``: mariadb-dump reads committed data from its own session.
"""

import gzip
import os
import stat
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import MySQLdb
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from audit.models import AuditEntry, Outcome
from backups.engines import MariaDBEngine
from backups.locks import MaintenanceBusy, maintenance_lock
from backups.models import Backup, BackupKind, BackupStatus
from backups.services import (
    BackupError,
    backup_create,
    backup_path,
    backup_restore,
    backup_verify,
    read_manifest,
    resolve,
)
from crm.models import Client, Consent, ConsentType
from demo.services import demo_data_seed
from sales.models import Cart, CartStatus, Payment, PaymentMethod

mariadb_only = pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB")


@pytest.fixture
def salon(transactional_db):
    demo_data_seed(clients=30, random_seed=11)


def server_params() -> dict:
    params = connection.get_connection_params()
    params.pop("database", None)
    return params


def mariadb(database: str, sql: str) -> list[tuple]:
    with MySQLdb.connect(**server_params(), database=database) as db:
        cursor = db.cursor()
        cursor.execute(sql)
        return list(cursor.fetchall())


def table_fingerprint(database: str) -> dict[str, tuple]:
    """Row count and CHECKSUM TABLE of every base table."""
    tables = [r[0] for r in mariadb(database, "SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")]
    return {
        t: (mariadb(database, f"SELECT COUNT(*) FROM `{t}`")[0][0], mariadb(database, f"CHECKSUM TABLE `{t}`")[0][1])
        for t in tables
    }


@pytest.fixture
def fresh_database():
    name = f"{connection.settings_dict['NAME']}_fresh"
    mariadb("mysql", f"DROP DATABASE IF EXISTS `{name}`")
    mariadb("mysql", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    yield name
    mariadb("mysql", f"DROP DATABASE IF EXISTS `{name}`")


def client_cnf(tmp_path: Path) -> str:
    params = server_params()
    path = tmp_path / "my.cnf"
    path.write_text(f"[client]\nuser={params['user']}\nhost={params.get('host') or 'localhost'}\nport={params.get('port', 3306)}\n"
                    + (f"password={params['password']}\n" if params.get("password") else ""))  # fmt: skip
    return str(path)


# --- Writing a backup ---------------------------------------------------------------------------


@mariadb_only
def test_a_backup_round_trips_through_plain_gunzip_and_mariadb(salon, fresh_database, tmp_path):
    backup = backup_create()
    path = backup_path(backup)
    assert path.name.startswith(f"beils_{connection.settings_dict['NAME']}_") and path.name.endswith(".sql.gz")
    assert backup.status == BackupStatus.SUCCESS and backup.size_bytes == path.stat().st_size

    # The bare-server path: standard tools only.
    subprocess.run(
        f"gunzip < {path} | mariadb --defaults-extra-file={client_cnf(tmp_path)} {fresh_database}",
        shell=True, check=True,
    )  # fmt: skip
    restored, live = table_fingerprint(fresh_database), table_fingerprint(connection.settings_dict["NAME"])
    for written_by_the_backup_itself in ("maintenance_backup", "maintenance_auditentry", "maintenance_auditchainhead"):
        restored.pop(written_by_the_backup_itself), live.pop(written_by_the_backup_itself)
    assert restored == live
    for table, figures in backup.tables.items():
        assert mariadb(fresh_database, f"SELECT COUNT(*) FROM `{table}`")[0][0] == figures["rows"], table


@mariadb_only
def test_the_manifest_beside_the_file_describes_it(salon):
    backup = backup_create()
    manifest = read_manifest(backup_path(backup))
    assert manifest["sha256"] == backup.sha256
    assert manifest["tables"]["crm_client"]["rows"] == Client.all_objects.count()
    assert manifest["migrations"]["crm"] == _latest_migration("crm")
    assert manifest["server_version"].startswith("10.") or "MariaDB" in manifest["server_version"]
    assert "gunzip <" in manifest["restore_with"]


@mariadb_only
def test_the_dump_holds_structure_constraints_and_the_completion_trailer(salon):
    backup = backup_create()
    text = gzip.decompress(backup_path(backup).read_bytes()).decode()
    assert "CREATE TABLE `crm_client`" in text
    assert "CONSTRAINT `crm_client_email_not_blank` CHECK" in text
    assert "FOREIGN KEY" in text and "UNIQUE KEY" in text
    assert text.rstrip().splitlines()[-1].startswith("-- Dump completed")


@mariadb_only
def test_credentials_never_reach_a_command_line(settings):
    engine = MariaDBEngine()
    engine.settings = {**engine.settings, "PASSWORD": "s3cret-pass"}
    with engine.option_file() as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert 'password="s3cret-pass"' in Path(path).read_text()
        command = engine.dump_command(path, "beils")
        assert not any("s3cret-pass" in part for part in command)
        assert command[1] == f"--defaults-extra-file={path}"
    assert not Path(path).exists()


@mariadb_only
def test_a_partial_backup_holds_only_the_requested_tables(salon):
    backup = backup_create(tables=["crm_client", "crm_consent"])
    assert set(backup.tables) == {"crm_client", "crm_consent"}
    assert backup.tables_requested == ["crm_client", "crm_consent"]
    assert backup_verify(backup).verify_ok is True


# --- Faults ---------------------------------------------------------------------------------------


@pytest.fixture
def break_the_dump(tmp_path, monkeypatch):
    """Call it to put a mariadb-dump on PATH that dies part-way, as when the process is killed."""

    def enable():
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        script = bin_dir / "mariadb-dump"
        script.write_text('#!/bin/sh\n/usr/bin/mariadb-dump "$@" | head -c 3000\nkill -9 $$\n')
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    return enable


@mariadb_only
def test_a_killed_dump_leaves_no_file_and_keeps_the_older_backup(salon, break_the_dump, settings):
    good = backup_create()
    before = sorted(p.name for p in Path(settings.BACKUP_DIR).iterdir())
    break_the_dump()

    with pytest.raises(BackupError, match="discarded"):
        backup_create()

    assert sorted(p.name for p in Path(settings.BACKUP_DIR).iterdir()) == before
    failed = Backup.objects.exclude(pk=good.pk).get()
    assert failed.status == BackupStatus.FAILED and failed.error
    assert backup_verify(good).verify_ok is True
    assert AuditEntry.objects.filter(action="maintenance.backup.backup_failed", outcome=Outcome.FAILURE).exists()


@mariadb_only
def test_a_dump_without_its_trailer_is_rejected(salon, tmp_path, monkeypatch, settings):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mariadb-dump").write_text('#!/bin/sh\n/usr/bin/mariadb-dump "$@" | head -n 200\nexit 0\n')
    (bin_dir / "mariadb-dump").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    with pytest.raises(BackupError, match="trailer"):
        backup_create()
    assert list(Path(settings.BACKUP_DIR).iterdir()) == []


@mariadb_only
def test_it_refuses_to_start_without_enough_free_space(salon, settings):
    settings.BACKUP_MIN_FREE_BYTES = 2**62
    with pytest.raises(BackupError, match="Not enough free space"):
        backup_create()
    assert not list(Path(settings.BACKUP_DIR).glob("*.gz"))


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@mariadb_only
def test_a_disk_that_fills_up_mid_backup_leaves_nothing_behind(salon, tiny_disk, settings):
    settings.BACKUP_DIR = tiny_disk
    settings.BACKUP_MIN_FREE_BYTES = 0
    settings.BACKUP_COMPRESSION_LEVEL = 1
    demo_data_seed(clients=400, random_seed=3, flush=True)
    with pytest.raises(BackupError, match="discarded"):
        backup_create()
    assert list(tiny_disk.iterdir()) == []


@mariadb_only
def test_a_flipped_byte_or_a_truncated_file_is_always_detected(salon):
    backup = backup_create()
    path = backup_path(backup)
    original = path.read_bytes()

    corrupted = bytearray(original)
    corrupted[len(corrupted) // 2] ^= 0x01
    path.write_bytes(bytes(corrupted))
    with pytest.raises(BackupError, match="checksum"):
        backup_verify(backup)

    # Even when the checksum in the catalogue is made to match, the contents give it away.
    import hashlib

    backup.sha256 = hashlib.sha256(bytes(corrupted)).hexdigest()
    with pytest.raises(BackupError):
        backup_verify(backup)

    path.write_bytes(original[: len(original) // 2])
    backup.size_bytes, backup.sha256 = len(original) // 2, hashlib.sha256(original[: len(original) // 2]).hexdigest()
    with pytest.raises(BackupError):
        backup_verify(backup)
    assert Backup.objects.get(pk=backup.pk).verify_ok is False


@mariadb_only
def test_the_snapshot_stays_consistent_while_the_salon_keeps_selling(salon, fresh_database, tmp_path):
    """Sales (a cart and its payment, in one transaction) keep coming during the dump."""
    demo_data_seed(clients=600, random_seed=4, flush=True)
    stop = threading.Event()
    sold = []

    def till():
        from django.db import connections

        while not stop.is_set():
            with transaction.atomic():
                cart = Cart.objects.create(
                    status=CartStatus.OPEN,
                    total=Decimal("25.00"),
                    net_total=Decimal("20.66"),
                    tax_total=Decimal("4.34"),
                )
                Payment.objects.create(cart=cart, method=PaymentMethod.CARD, amount=Decimal("25.00"))
            sold.append(cart.pk)
        connections.close_all()

    seller = threading.Thread(target=till)
    seller.start()
    try:
        time.sleep(0.2)
        backup = backup_create()
    finally:
        stop.set()
        seller.join()
    assert len(sold) > 5

    subprocess.run(f"gunzip < {backup_path(backup)} | mariadb --defaults-extra-file={client_cnf(tmp_path)} {fresh_database}",
                   shell=True, check=True)  # fmt: skip
    # Only the writer's carts: the seed leaves some open carts of its own without a payment
    # (a sale in progress), which says nothing about the snapshot.
    first_sold = min(sold)
    captured = mariadb(fresh_database, f"SELECT COUNT(*) FROM sales_cart WHERE id >= {first_sold}")[0][0]
    unbalanced = mariadb(
        fresh_database,
        "SELECT c.id FROM sales_cart c LEFT JOIN sales_payment p ON p.cart_id = c.id "
        f"WHERE c.id >= {first_sold} GROUP BY c.id, c.total HAVING COALESCE(SUM(p.amount), 0) <> c.total",
    )
    assert captured > 0
    assert unbalanced == []
    assert mariadb(fresh_database, "SELECT COUNT(*) FROM sales_cart")[0][0] == backup.tables["sales_cart"]["rows"]


@mariadb_only
def test_a_second_backup_is_refused_while_one_runs(salon):
    name = f"beils:{connection.settings_dict['NAME']}:maintenance"[-64:]
    with MySQLdb.connect(**server_params()) as other_process:
        cursor = other_process.cursor()
        cursor.execute("SELECT GET_LOCK(%s, 0)", [name])
        assert cursor.fetchone()[0] == 1
        with pytest.raises(CommandError, match="already running"):
            call_command("backup")
        with pytest.raises(CommandError, match="already running"):
            call_command("migrate", "--noinput")
        # Released before the connection closes: the server frees a closed connection's locks a
        # moment later, and a backup started in that moment was refused (seen once in CI).
        cursor.execute("SELECT RELEASE_LOCK(%s)", [name])
    assert backup_create().status == BackupStatus.SUCCESS


def test_the_lock_is_reentrant_within_a_thread_but_not_across(transactional_db):
    errors = []
    with maintenance_lock():
        with maintenance_lock():
            pass

        def other():
            from django.db import connections

            try:
                with maintenance_lock():
                    pass
            except MaintenanceBusy as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1


# --- Verify and restore ------------------------------------------------------------------------


@mariadb_only
def test_a_restore_test_restores_into_a_scratch_database_and_drops_it(salon):
    backup = backup_create()
    # Only this test database's own: others run their tests on the same server meanwhile.
    ours = f"SHOW DATABASES LIKE '{connection.settings_dict['NAME']}%'"
    databases_before = {r[0] for r in mariadb("mysql", ours)}
    backup_verify(backup, restore_test=True)
    backup.refresh_from_db()
    assert backup.verify_ok is True and backup.restore_tested_at is not None
    assert {r[0] for r in mariadb("mysql", ours)} == databases_before
    assert AuditEntry.objects.filter(action="maintenance.backup.restore_tested").exists()


@mariadb_only
def test_a_full_restore_brings_back_the_data_and_takes_a_safety_backup(salon):
    backup = backup_create()
    fingerprint = table_fingerprint(connection.settings_dict["NAME"])
    kept = Client.all_objects.order_by("pk").first()
    Client.all_objects.filter(pk=kept.pk).update(name="Changed after the backup")
    Consent.objects.all().delete()
    mariadb(connection.settings_dict["NAME"], "CREATE TABLE stray_table (id INT PRIMARY KEY)")

    call_command("restore", str(backup.pk), "--noinput")

    restored = table_fingerprint(connection.settings_dict["NAME"])
    assert "stray_table" not in restored
    for table in ("crm_client", "crm_consent", "sales_cart", "sales_invoice"):
        assert restored[table] == fingerprint[table], table
    assert Client.all_objects.get(pk=kept.pk).name == kept.name
    safety = Backup.objects.get(kind=BackupKind.SAFETY)
    assert safety.tables["crm_consent"]["rows"] == 0
    assert AuditEntry.objects.filter(action="maintenance.backup.restored").exists()
    # Foreign keys still hold after the swap.
    with pytest.raises(IntegrityError), transaction.atomic():
        Consent.objects.create(client_id=10**9, kind=ConsentType.INDIBA)


@mariadb_only
def test_a_selective_restore_touches_only_the_named_tables(salon):
    backup = backup_create()
    Consent.objects.all().delete()
    Client.all_objects.update(notes="edited")

    call_command("restore", backup.file_name, "--tables", "crm_consent", "--noinput")

    assert Consent.objects.count() == backup.tables["crm_consent"]["rows"]
    assert set(Client.all_objects.values_list("notes", flat=True)) == {"edited"}


@mariadb_only
def test_restore_asks_before_overwriting_and_a_no_changes_nothing(salon, monkeypatch):
    backup = backup_create()
    Consent.objects.all().delete()
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("restore", str(backup.pk))
    assert Consent.objects.count() == 0
    assert not Backup.objects.filter(kind=BackupKind.SAFETY).exists()


@mariadb_only
def test_a_corrupted_backup_is_never_restored(salon):
    backup = backup_create()
    Consent.objects.all().delete()
    path = backup_path(backup)
    data = bytearray(path.read_bytes())
    data[-40] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="verification"):
        call_command("restore", str(backup.pk), "--noinput")
    assert Consent.objects.count() == 0
    assert not Backup.objects.filter(kind=BackupKind.SAFETY).exists()


@mariadb_only
def test_a_restore_that_fails_midway_leaves_the_live_data_alone(salon):
    backup = backup_create(tables=["crm_consent"])
    connection.cursor().execute("ALTER TABLE crm_consent ADD COLUMN extra INT NULL")
    Consent.objects.filter(pk=Consent.objects.first().pk).delete()
    remaining = list(Consent.objects.values_list("pk", flat=True))
    try:
        with pytest.raises(CommandError, match="other columns"):
            call_command("restore", str(backup.pk), "--tables", "crm_consent", "--noinput")
        assert list(Consent.objects.values_list("pk", flat=True)) == remaining
    finally:
        connection.cursor().execute("ALTER TABLE crm_consent DROP COLUMN extra")


@mariadb_only
def test_encrypted_backups_open_with_the_standard_age_tool(salon, settings, fresh_database, tmp_path):
    key = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    settings.BACKUP_ENCRYPTION_KEY = key
    backup = backup_create()
    path = backup_path(backup)
    assert path.name.endswith(".sql.gz.age") and backup.encrypted
    assert not path.read_bytes().startswith(b"\x1f\x8b")  # not readable as gzip
    assert backup_verify(backup, restore_test=True).verify_ok

    (tmp_path / "key.txt").write_text(key)
    subprocess.run(
        f"age -d -i {tmp_path / 'key.txt'} {path} | gunzip | mariadb --defaults-extra-file={client_cnf(tmp_path)} {fresh_database}",
        shell=True, check=True,
    )  # fmt: skip
    assert (
        table_fingerprint(fresh_database)["crm_client"]
        == table_fingerprint(connection.settings_dict["NAME"])["crm_client"]
    )

    settings.BACKUP_ENCRYPTION_KEY = ""
    with pytest.raises(BackupError, match="encrypted"):
        backup_verify(backup)


# --- Migrations and the catalogue -------------------------------------------------------------


@mariadb_only
def test_migrate_backs_up_first_when_it_has_work(salon):
    call_command("migrate", "maintenance", "0002", verbosity=0)  # drops the catalogue table itself
    call_command("migrate", verbosity=0)
    pre = Backup.objects.filter(kind=BackupKind.PRE_MIGRATE)
    assert pre.count() == 2  # one before each migrate, the first known from its manifest only
    assert all(backup_path(b).exists() for b in pre)
    call_command("migrate", verbosity=0)
    assert Backup.objects.filter(kind=BackupKind.PRE_MIGRATE).count() == 2  # nothing to apply, no backup


@mariadb_only
def test_backups_can_be_listed_and_verified_without_the_catalogue(salon, capsys):
    backup = backup_create()
    Backup.objects.all().delete()
    call_command("listbackups", "--from-manifests")
    assert backup.file_name in capsys.readouterr().out
    rebuilt = resolve(backup.file_name)
    assert rebuilt.pk is None and rebuilt.sha256 == backup.sha256
    assert backup_verify(rebuilt).verify_ok is True


def test_sqlite_backups_verify_and_restore(transactional_db):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite engine")
    demo_data_seed(clients=10, random_seed=2)
    backup = backup_create()
    assert backup.file_name.endswith(".sqlite3.gz")
    assert backup_verify(backup).verify_ok
    Consent.objects.all().delete()
    backup_restore(backup, tables=["crm_consent"])
    assert Consent.objects.count() == backup.tables["crm_consent"]["rows"]


@mariadb_only
def test_a_backup_brought_from_elsewhere_is_read_where_it_lies(salon, tmp_path):
    backup = backup_create()
    elsewhere = tmp_path / "usb-drive"
    elsewhere.mkdir()
    for source in backup_path(backup).parent.glob(f"{backup.file_name}*"):  # the file, its manifest, ledger, files
        source.rename(elsewhere / source.name)
    Backup.objects.all().delete()

    found = resolve(str(elsewhere / backup.file_name))
    assert backup_path(found) == elsewhere / backup.file_name
    assert backup_verify(found).verify_ok is True


def _latest_migration(app: str) -> str:
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    (leaf,) = [name for label, name in MigrationLoader(connection).graph.leaf_nodes() if label == app]
    return leaf
