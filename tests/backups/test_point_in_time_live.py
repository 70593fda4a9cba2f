"""Point-in-time recovery for real: a private MariaDB server with the binary log on, Beils run
against it the way an operator runs it (``manage.py`` in a subprocess), and the runbook's
point-in-time block (docs/disaster-recovery.md, section 8) run as printed.

The shared test server runs with ``log_bin=0``, so this module starts its own ``mariadbd`` on a
free port with a fresh data directory, once per session, and removes both at the end."""

import ast
import getpass
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.backups.test_runbook import runbook_block
from tests.helpers import free_port

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB"),
]

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "beils_pitr"
TOOLS = ["mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin", "mariadb-binlog", "mariadb-tzinfo-to-sql"]
PATH = os.pathsep.join(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])


def _tool(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + PATH)


class Server:
    """A running private mariadbd: ``sql()`` talks to it as root over TCP."""

    def __init__(self, port: int, home: Path):
        self.port, self.home = port, home

    @property
    def env(self) -> dict[str, str]:
        """The environment for the mariadb clients: ``~/.my.cnf``-style credentials in MYSQL_HOME."""
        return {"PATH": PATH, "HOME": str(self.home), "MYSQL_HOME": str(self.home), "LANG": "C.UTF-8"}

    def sql(self, statement: str, database: str = "") -> str:
        command = ["mariadb", "-N", "-B", "-e", statement, *([database] if database else [])]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


@pytest.fixture(scope="session")
def binlog_server(tmp_path_factory):
    """A MariaDB server with ``log_bin`` on, ROW format, server id 1; stopped and deleted at the end."""
    missing = [tool for tool in TOOLS if not _tool(tool)]
    if missing:
        pytest.skip(f"point-in-time recovery needs the MariaDB server tools; missing: {', '.join(missing)}")
    base = tmp_path_factory.mktemp("pitr-server")
    run = Path(tempfile.mkdtemp(prefix="beils-pitr-"))  # short: a socket path must stay under 108 bytes
    datadir, home = base / "data", base / "home"
    home.mkdir()
    user = getpass.getuser()
    port = free_port()
    (home / "my.cnf").write_text(f"[client]\nuser=root\nhost=127.0.0.1\nport={port}\nprotocol=tcp\n")
    server = Server(port, home)
    log = base / "mariadbd.log"
    process = None
    try:
        install = subprocess.run(
            [_tool("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}", f"--user={user}",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if install.returncode != 0:
            pytest.skip(f"mariadb-install-db failed: {(install.stdout + install.stderr)[-500:]}")
        process = subprocess.Popen(
            [_tool("mariadbd"), "--no-defaults", f"--datadir={datadir}", f"--socket={run / 'mysqld.sock'}",
             f"--pid-file={run / 'mysqld.pid'}", f"--port={port}", "--bind-address=127.0.0.1",
             f"--log-bin={datadir / 'mariadb-bin'}", "--server-id=1", "--binlog-format=ROW", f"--user={user}",
             f"--log-error={log}", "--skip-name-resolve", "--innodb-buffer-pool-size=64M"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(150):
            ping = subprocess.run(["mariadb-admin", "ping"], env=server.env, capture_output=True)
            if ping.returncode == 0 or process.poll() is not None:
                break
            time.sleep(0.2)
        if process.poll() is not None or ping.returncode != 0:
            errors = log.read_text(errors="replace")[-800:] if log.exists() else ""
            pytest.skip(f"the private MariaDB server did not start: {errors}")
        assert server.sql("SELECT @@log_bin, @@binlog_format") == "1\tROW"
        # Django with USE_TZ needs the time zone tables (see tests/helpers.py); a fresh server has none.
        zones = subprocess.Popen(
            ["mariadb-tzinfo-to-sql", "/usr/share/zoneinfo"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        subprocess.run(["mariadb", "mysql"], stdin=zones.stdout, env=server.env, check=True, capture_output=True)
        zones.stdout.close()
        zones.wait()
        yield server
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(run, ignore_errors=True)


def beils_env(server: Server, work: Path) -> dict[str, str]:
    """The operator's environment: production settings, the private server, the binlog position on."""
    return {
        **server.env,
        "HOME": str(work),
        "DJANGO_SETTINGS_MODULE": "beils.settings",
        "DATABASE_URL": f"mysql://root@127.0.0.1:{server.port}/{DATABASE}",
        "BACKUP_BINLOG_POSITION": "true",
        "VAR_DIR": str(work / "var"),
        "BACKUP_DIR": str(work / "backups"),
        "ERASURE_LEDGER_PATH": str(work / "backups" / "erasure-ledger.jsonl"),
        "CELERY_BROKER_URL": "memory://",
        **({"TZ": os.environ["TZ"]} if "TZ" in os.environ else {}),  # mariadb-binlog reads STOP in local time
    }


def run_pitr_block(values: dict[str, str], cwd: Path, env: dict) -> str:
    """The runbook's point-in-time block as printed, with its ``NAME=…`` lines set to ``values``."""
    script = runbook_block("pitr-mariadb")
    for variable, value in values.items():
        script, count = re.subn(rf'^{variable}=("[^"]*"|\S+)', f"{variable}='{value}'", script, count=1, flags=re.M)
        assert count == 1, f"{variable}= is not set in the pitr-mariadb block"
    result = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stderr, result.stderr  # a pipeline's exit status is its last command's
    return result.stdout + result.stderr


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def shell(env: dict, code: str) -> str:
    return manage(env, "shell", "--no-imports", "-c", code)


CLIENT_NAMES = "from crm.models import Client; print(sorted(Client.all_objects.values_list('name', flat=True)))"


def test_the_runbook_replays_the_binary_log_up_to_a_point_in_time(binlog_server, tmp_path):
    server, work = binlog_server, tmp_path
    (work / "var").mkdir()
    env = beils_env(server, work)
    server.sql(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed", "--clients", "20")
        before = shell(env, CLIENT_NAMES)
        invoices = server.sql("SELECT COUNT(*) FROM sales_invoice", DATABASE)

        backup = json.loads(manage(env, "backup", "--json"))
        manifest = json.loads(Path(backup["path"] + ".json").read_text())
        assert manifest["binlog"]["file"].startswith("mariadb-bin.") and manifest["binlog"]["position"] > 0
        assert manifest["binlog"]["gtid"]

        # A: the work done after the backup, to be recovered: new clients, an edit, a deletion.
        shell(
            env,
            "from crm.models import Client\n"
            "for i in range(3): Client.objects.create(name=f'After backup {i}')\n"
            "first = Client.all_objects.order_by('pk').first(); first.notes = 'edited after the backup'; first.save()\n"
            "Client.all_objects.filter(name='After backup 2').delete()",
        )
        time.sleep(1.1)  # the binary log's clock has one-second resolution
        stop = time.strftime("%Y-%m-%d %H:%M:%S")  # local time, as mariadb-binlog reads it
        time.sleep(1.1)
        # B: after the point in time, then the incident.
        shell(env, "from crm.models import Client\nfor i in range(2): Client.objects.create(name=f'After stop {i}')")
        server.sql(f"DROP DATABASE {DATABASE}")

        # The operator copies the binary logs off the server before loading anything.
        binlogs = work / "binlog-copy"
        binlogs.mkdir()
        for log in Path(server.sql("SELECT @@log_bin_basename")).parent.glob("mariadb-bin.[0-9]*"):
            shutil.copy2(log, binlogs)

        values = {"BACKUP": backup["path"], "KEY": "unused.key", "DB": DATABASE, "BINLOGS": str(binlogs), "STOP": stop}
        output = run_pitr_block(values, work, env)
        assert "checksum OK" in output and f"from {manifest['binlog']['file']}" in output
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "gdpr_replay")
        assert "intact" in manage(env, "verifyinvoices")

        names = ast.literal_eval(shell(env, CLIENT_NAMES))
        expected = sorted([*ast.literal_eval(before), "After backup 0", "After backup 1"])
        assert names == expected  # A back (its deletion too), B absent, the backup's clients intact
        notes = shell(env, "from crm.models import Client; print(Client.all_objects.order_by('pk').first().notes)")
        assert notes.strip() == "edited after the backup"
        assert server.sql("SELECT COUNT(*) FROM sales_invoice", DATABASE) == invoices
        assert server.sql("SELECT COUNT(*) FROM crm_client", DATABASE) == str(len(expected))
    finally:
        server.sql(f"DROP DATABASE IF EXISTS {DATABASE}")
