"""docs/disaster-recovery.md works as printed: its bare-server shell blocks are run as they are
(only the file names set at their top are replaced) against real backups, and its Beils steps
(restore, verify, replay, resume) bring the data back."""

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from backups.services import backup_create, backup_path
from crm.models import Client
from demo.services import demo_data_seed

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "disaster-recovery.md"


def runbook_block(name: str) -> str:
    text = RUNBOOK.read_text()
    match = re.search(rf"<!-- runbook-test: {name} -->\n```sh\n(.*?)\n```", text, re.DOTALL)
    assert match, f"no block {name} in {RUNBOOK}"
    return match.group(1)


def run_block(name: str, values: dict[str, str], cwd: Path, env: dict | None = None) -> str:
    """Run the block with its variables (``NAME=…`` lines at the top) set to ``values``."""
    script = runbook_block(name)
    for variable, value in values.items():
        script, count = re.subn(rf"^{variable}=\S+", f"{variable}='{value}'", script, count=1, flags=re.MULTILINE)
        assert count == 1, f"{variable}= is not set in the {name} block"
    result = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture
def salon(transactional_db):
    demo_data_seed(clients=15, random_seed=3)


@pytest.fixture
def age_key(settings, tmp_path):
    key = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    path = tmp_path / "beils-backup.key"
    path.write_text(key)
    settings.BACKUP_ENCRYPTION_KEY = key
    return path


@pytest.mark.mariadb
@pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB")
def test_the_bare_server_commands_restore_an_encrypted_mariadb_backup(salon, age_key, tmp_path):
    backup = backup_create()
    assert backup.file_name.endswith(".sql.gz.age")
    params = connection.get_connection_params()
    home = tmp_path / "mysql-home"
    home.mkdir()
    (home / "my.cnf").write_text(
        f"[client]\nuser={params['user']}\nhost={params.get('host') or 'localhost'}\nport={params.get('port', 3306)}\n"
        + (f"password={params['password']}\n" if params.get("password") else "")
    )
    database = f"{connection.settings_dict['NAME']}_runbook"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "MYSQL_HOME": str(home), "HOME": str(tmp_path)}
    drop = ["mariadb", "-e", f"DROP DATABASE IF EXISTS `{database}`"]
    subprocess.run(drop, env=env, check=True)
    try:
        output = run_block(
            "bare-mariadb", {"BACKUP": str(backup_path(backup)), "KEY": str(age_key), "DB": database}, tmp_path, env
        )
        assert "checksum OK" in output and "-- Dump completed" in output
        assert "row counts checked" in output and "MISMATCH" not in output
        count = subprocess.run(
            ["mariadb", "-N", "-e", "SELECT COUNT(*) FROM crm_client", database],
            env=env,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert int(count) == Client.all_objects.count() == backup.tables["crm_client"]["rows"]
    finally:
        subprocess.run(drop, env=env, check=True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite path")
def test_the_bare_server_commands_restore_an_encrypted_sqlite_backup(salon, age_key, tmp_path):
    backup = backup_create()
    target = tmp_path / "beils.sqlite3"

    output = run_block(
        "bare-sqlite", {"BACKUP": str(backup_path(backup)), "KEY": str(age_key), "TARGET": str(target)}, tmp_path
    )

    assert "checksum OK" in output and "\nok\n" in output
    assert "row counts checked" in output and "MISMATCH" not in output
    assert target.stat().st_size > 0


def test_a_tampered_file_fails_the_runbook_checksum_line(salon, tmp_path):
    backup = backup_create()
    path = backup_path(backup)
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    name = "bare-mariadb" if connection.vendor == "mysql" else "bare-sqlite"
    checksum_line = next(line for line in runbook_block(name).splitlines() if "sha256sum" in line)
    result = subprocess.run(["bash", "-c", f"BACKUP='{path}'\n{checksum_line}"], capture_output=True, text=True)
    assert "checksum OK" not in result.stdout


def test_the_beils_steps_restore_verify_replay_and_resume(salon, capsys, installed):
    installed(timezone.now() - timedelta(days=30))  # past the first minutes' grace: alerts count
    backup = backup_create()
    client = Client.all_objects.order_by("pk").first()
    Client.all_objects.filter(pk=client.pk).update(name="Damaged")

    call_command("listbackups")  # 2. pick
    call_command("verifybackup", str(backup.pk))
    call_command("restore", str(backup.pk), "--noinput")  # 3. restore
    call_command("verifyinvoices")  # 4. verify
    with pytest.raises(SystemExit):  # exit 1: no heartbeat in a test
        call_command("dbhealth")
    call_command("gdpr_replay", "--dry-run")  # 5. replay
    call_command("gdpr_replay")
    call_command("backup", "--verify")  # 6. resume

    assert Client.all_objects.get(pk=client.pk).name == client.name
    out = capsys.readouterr().out
    assert "Restored the WHOLE database" in out and "hash chain intact" in out
