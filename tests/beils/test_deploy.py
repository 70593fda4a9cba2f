"""The production process list names commands that exist and parse: Procfile.production's
(gunicorn's configuration loads the app, Celery's options are its own, ``-A beils`` imports), and
each systemd unit under deploy/systemd runs the same command as its Procfile.production line.
The Celery processes are then started as the process list says, until they report ready."""

import configparser
import re
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.production import ROOT, VENV_BIN, process_stop, production_environment

UNITS = ROOT / "deploy" / "systemd"
#: Where docs/deploy.md installs Beils; the units run from there.
INSTALLED = "/srv/beils/"


def procfile(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split(":", 1) for line in lines)


def production_processes() -> dict[str, list[str]]:
    return {name: shlex.split(command) for name, command in procfile(ROOT / "Procfile.production").items()}


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(UNITS / f"beils-{name}.service")
    return parser


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    executable = VENV_BIN / args[0]
    return subprocess.run(
        [str(executable), *args[1:]], cwd=ROOT, env=production_environment(**env), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_production_runs_web_a_worker_an_ops_worker_and_beat():
    processes = production_processes()

    assert set(processes) == {"web", "worker", "ops", "beat"}
    assert processes["web"][0] == "gunicorn"
    assert processes["worker"][processes["worker"].index("-Q") + 1] == "celery"
    assert processes["ops"][processes["ops"].index("-Q") + 1] == "maintenance"
    assert "worker@%h" in processes["worker"] and "ops@%h" in processes["ops"]


@pytest.mark.parametrize("name", ["web", "worker", "ops", "beat"])
def test_each_systemd_unit_runs_its_production_process(name):
    service = unit(name)["Service"]
    command = shlex.split(service["ExecStart"].replace("%%", "%"))

    assert command[0] == f"{INSTALLED}.venv/bin/{production_processes()[name][0]}"
    assert command[1:] == production_processes()[name][1:]
    assert service["WorkingDirectory"] == INSTALLED.rstrip("/")
    assert service["EnvironmentFile"] == "/etc/beils/beils.env"
    assert service["User"] == "beils" and service["UMask"] == "0077"


def test_the_gunicorn_configuration_loads_the_application(tmp_path):
    result = run([*production_processes()["web"], "--check-config"], STATIC_ROOT=str(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["worker", "ops", "beat"])
def test_the_celery_commands_parse(name):
    result = run([*production_processes()[name], "--help"])

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_celery_app_imports():
    result = run(["celery", "-A", "beils", "report"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "maintenance.beat:OncePerSlotScheduler" in result.stdout  # Beils' settings, read through the app


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_the_systemd_units_are_valid(tmp_path):
    # Verified as installed, with the programs and the account this machine has instead.
    for source in UNITS.iterdir():
        text = re.sub(rf"{INSTALLED}\.venv/bin/\S+", "/bin/true", source.read_text())
        (tmp_path / source.name).write_text(text.replace("=beils\n", "=root\n"))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(path) for path in tmp_path.iterdir())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


#: What each Celery process logs once it is up: the worker's name and queue, or beat's start.
READY = {
    "worker": [f"worker@{socket.gethostname()} ready.", ".> celery "],
    "ops": [f"ops@{socket.gethostname()} ready.", ".> maintenance "],
    "beat": ["beat: Starting...", "maintenance.beat.OncePerSlotScheduler"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["worker", "ops", "beat"])
def test_the_celery_processes_start_as_listed(name, django_db_setup, tmp_path):
    log = tmp_path / f"{name}.log"
    line = procfile(ROOT / "Procfile.production")[name]
    with open(log, "wb") as output:
        # As honcho and systemd run it: the line through a shell, from the project, the venv first.
        process = subprocess.Popen(
            ["bash", "-c", f"exec {line}"], cwd=ROOT, env=production_environment(), stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not all(marker in log.read_text() for marker in READY[name]):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        process_stop(process)
