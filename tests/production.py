"""Beils as production runs it: ``collectstatic`` into a fresh STATIC_ROOT, then real gunicorn
(deploy/gunicorn.conf.py) with DEBUG off on a free port of 127.0.0.1, against the test database.

Import the ``production_server`` fixture into a test module that needs it."""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def database_url() -> str:
    """The test database, as a child process's DATABASE_URL (on SQLite, the test database file)."""
    s = connection.settings_dict
    if connection.vendor != "mysql":
        return f"sqlite:///{s['NAME']}"
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    return f"mysql://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 3306}/{s['NAME']}"


def production_environment(**extra: str) -> dict[str, str]:
    """The environment of a production process, served over plain HTTP on 127.0.0.1."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG")}
    return {
        **inherited, "DJANGO_SETTINGS_MODULE": "beils.settings", "DATABASE_URL": database_url(),
        "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
        "VAR_DIR": str(settings.VAR_DIR), "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "BACKUP_DIR": str(settings.BACKUP_DIR), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    }  # fmt: skip


@dataclass
class ProductionServer:
    url: str
    port: int
    static_root: Path
    log: Path


def process_stop(process: subprocess.Popen, seconds: float = 30) -> None:
    """Stop a process started in a session of its own, and its children: SIGTERM, then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until_listening(port: int, process: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, f"gunicorn stopped: {log.read_text()[-3000:]}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        assert time.monotonic() < deadline, f"gunicorn did not listen within {seconds} s: {log.read_text()[-3000:]}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def production_server(django_db_setup, tmp_path_factory):
    """gunicorn serving the test database with production settings; stopped at the module's end."""
    base = tmp_path_factory.mktemp("production")
    static_root, log = base / "static", base / "gunicorn.log"
    port = free_port()
    env = production_environment(
        STATIC_ROOT=str(static_root), GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", GUNICORN_THREADS="4"
    )
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout + collected.stderr
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_until_listening(port, process, log)
        yield ProductionServer(url=f"http://127.0.0.1:{port}", port=port, static_root=static_root, log=log)
    finally:
        process_stop(process)
