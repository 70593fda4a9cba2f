"""Restores and restore tests that fail cleanly: the working connection killed mid-load, and
the scratch databases a killed process leaves behind.

Real MariaDB, the real ``mariadb`` client (behind a wrapper that waits before loading, so that
the KILL lands while the load runs), a real ``manage.py`` process killed with SIGKILL.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import MySQLdb
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import AuditEntry, Outcome
from backups import engines
from backups.services import backup_create
from crm.models import Consent
from demo.services import demo_data_seed

pytestmark = pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB")

SCRATCH_PURPOSES = ("restore", "rtest", "replaced")


@pytest.fixture
def salon(transactional_db):
    demo_data_seed(clients=30, random_seed=11)


def server() -> MySQLdb.Connection:
    params = connection.get_connection_params()
    params.pop("database", None)
    return MySQLdb.connect(**params)


def query(sql: str, args=None) -> list[tuple]:
    with server() as db:
        cursor = db.cursor()
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def live_name() -> str:
    return connection.settings_dict["NAME"]


def scratch_databases(live: str | None = None) -> list[str]:
    # Exactly ``<live>_<purpose>_<timestamp>``: another run's test database on the same server
    # (``test_beils_restore``) looks like a scratch name without its timestamp.
    scratch = re.compile(rf"{re.escape(live or live_name())}_(?:{'|'.join(SCRATCH_PURPOSES)})_\d{{20}}")
    return sorted(name for (name,) in query("SHOW DATABASES") if scratch.fullmatch(name))


def lock_holder() -> int | None:
    return query("SELECT IS_USED_LOCK(%s)", [f"beils:{live_name()}:maintenance"[-64:]])[0][0]


@pytest.fixture
def slow_load(tmp_path, monkeypatch):
    """A ``mariadb`` on PATH that touches a marker, then waits 20 s before loading for real: a
    test knows when the load has begun and has time to act during it. Returns the marker."""
    bin_dir, marker = tmp_path / "bin", tmp_path / "load-started"
    bin_dir.mkdir()
    script = bin_dir / "mariadb"
    # Short sleeps: a killed wrapper must not leave a long-lived child holding the pipe open.
    script.write_text(
        f'#!/bin/sh\ntouch {marker}\ni=0\nwhile [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done\nexec /usr/bin/mariadb "$@"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return marker


def wait_for(marker: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not marker.exists():
        assert time.monotonic() < deadline, "the load never started"
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def slow_watchdog(monkeypatch):
    """The load's watchdog looks every 2 s (not 0.5 s): time for a test to see the lock after a KILL."""
    monkeypatch.setattr(engines.mariadb, "WATCH_SECONDS", 2)


def kill_working_connection_when_load_starts(marker: Path, seen: dict) -> threading.Thread:
    """From another connection: note who holds the lock, KILL the restore's own connection,
    and look again at the lock a moment later."""
    connection.ensure_connection()
    working = connection.connection.thread_id()

    def act():
        wait_for(marker)
        seen["before"] = lock_holder()
        query(f"KILL {int(working)}")
        time.sleep(0.5)  # the watchdog looks every 2 s here (fixture below)
        seen["after_kill"] = lock_holder()
        seen["working"] = working

    thread = threading.Thread(target=act)
    thread.start()
    return thread


@pytest.fixture
def other_live_scratch():
    """A scratch-looking database of ANOTHER live database on the same server (another test run
    of another engineer, say): it must never be dropped."""
    name = f"{live_name()}x_restore_20260101000000000000"
    query(f"CREATE DATABASE IF NOT EXISTS `{name}`")
    yield name
    query(f"DROP DATABASE IF EXISTS `{name}`")


def test_a_restore_whose_connection_is_killed_mid_load_keeps_the_lock_and_ends_cleanly(salon, slow_load):
    backup = backup_create()
    consents = Consent.objects.count()
    seen: dict = {}
    thread = kill_working_connection_when_load_starts(slow_load, seen)
    started = time.monotonic()

    with pytest.raises(CommandError, match="connection") as raised:
        call_command("restore", str(backup.pk), "--noinput", "--no-safety-backup")
    thread.join()

    assert seen["before"] is not None and seen["before"] != seen["working"]
    assert seen["after_kill"] == seen["before"], "the lock must stay held by the restore after its connection died"
    assert time.monotonic() - started < 15, "the load must be stopped, not left to run to its end"
    assert "live database was left as it was" in str(raised.value)
    assert scratch_databases() == []
    assert lock_holder() is None
    assert Consent.objects.count() == consents
    assert AuditEntry.objects.filter(action="maintenance.backup.restore_failed", outcome=Outcome.FAILURE).exists()


def test_a_restore_test_whose_connection_is_killed_mid_load_ends_cleanly(salon, slow_load):
    backup = backup_create()
    seen: dict = {}
    thread = kill_working_connection_when_load_starts(slow_load, seen)

    with pytest.raises(CommandError, match="connection"):
        call_command("verifybackup", str(backup.pk), "--restore-test")
    thread.join()

    assert seen["after_kill"] == seen["before"] is not None
    assert scratch_databases() == []
    backup.refresh_from_db()
    assert backup.verify_ok is False and backup.restore_tested_at is None
    assert AuditEntry.objects.filter(action="maintenance.backup.verification_failed").exists()


def _sigkill_a_restore_mid_load(backup, marker: Path, tmp_path: Path) -> None:
    settings_dict = connection.settings_dict
    url = f"mysql://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 3306}/{live_name()}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "beils.settings",
           "VAR_DIR": str(settings.VAR_DIR), "BACKUP_DIR": str(settings.BACKUP_DIR)}  # fmt: skip
    with open(tmp_path / "restore.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "restore", str(backup.pk), "--noinput", "--no-safety-backup"],
            cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(marker)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.parametrize("next_run", ["restore", "restore test"])
def test_scratch_databases_left_by_a_killed_restore_are_dropped_by_the_next_run(
    salon, slow_load, tmp_path, other_live_scratch, next_run, monkeypatch
):
    backup = backup_create()
    _sigkill_a_restore_mid_load(backup, slow_load, tmp_path)
    leftovers = scratch_databases()
    assert len(leftovers) == 1, (tmp_path / "restore.log").read_text()

    monkeypatch.setenv("PATH", os.environ["PATH"].split(":", 1)[1])  # the real client from now on
    if next_run == "restore":
        call_command("restore", str(backup.pk), "--noinput", "--no-safety-backup")
    else:
        call_command("verifybackup", str(backup.pk), "--restore-test")

    assert scratch_databases() == []
    assert scratch_databases(f"{live_name()}x") == [other_live_scratch]
