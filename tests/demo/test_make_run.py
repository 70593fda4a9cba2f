"""`make run` as a person uses it on a fresh machine: it sets up, serves the admin with a worker
and beat beside it, and a Ctrl-C stops all of it without an error (none logged, make exits 0)."""

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http:// URL
            return response.status == 200
    except OSError:
        return False


def test_make_run_serves_and_a_ctrl_c_stops_everything_cleanly(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_SETTINGS_MODULE")}  # fmt: skip
    env.update(VAR_DIR=str(tmp_path / "var"), CLIENTS="10", PORT=str(port), MAKEFLAGS="", PYTHONUNBUFFERED="1")
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        # Its own process group, as a terminal's foreground job: Ctrl-C reaches make and all below.
        run = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while not _answers(f"http://127.0.0.1:{port}/health/live") and time.monotonic() < deadline:
                assert run.poll() is None, log.read_text()
                time.sleep(1)
            assert _answers(f"http://127.0.0.1:{port}/admin/login/"), log.read_text()
            while b"ready." not in log.read_bytes() and time.monotonic() < deadline:  # the worker
                time.sleep(1)
            os.killpg(run.pid, signal.SIGINT)
            returncode = run.wait(timeout=60)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
    output = log.read_text(errors="replace")
    # make itself stops by the interrupt, as any program does (the shell's status 130); what a
    # person sees is that nothing failed: no error line from make, none from the processes.
    assert returncode in (0, -signal.SIGINT), output
    assert "make: ***" not in output, output
    assert "ERROR" not in output and "Traceback" not in output, output
    assert "web.1 stopped (rc=0)" in output and "beat.1 stopped (rc=0)" in output, output
