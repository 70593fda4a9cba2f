"""Two "hosts" on loopback, as a salon group that outgrew one machine runs Beils: each host has
its own disk (VAR_DIR, BACKUP_DIR, MEDIA_ROOT under its own temporary directory), its own
gunicorn with DEBUG off and its own Celery worker; they share what production shares: one
MariaDB, one Redis (broker and cache) and an S3-compatible bucket (moto's server) for media.

Host 1 is the ops host: its worker consumes the "maintenance" queue. Host 2's worker consumes the
default queue, so anything a web node queues for imports and exports runs on host 2.
"""

import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.backups.conftest import free_port, s3_server  # noqa: F401 - the S3 server fixture
from tests.production import process_stop

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]

SECRET = "two-hosts-" + "k" * 60
BROKER_DB, CACHE_DB = 13, 14


def _database_url() -> str:
    s = connection.settings_dict
    return f"mysql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 3306}/{s['NAME']}"


def _redis_flush(db: int) -> None:
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()


@dataclass
class Host:
    name: str
    root: Path
    env: dict
    port: int = 0
    processes: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backup_dir(self) -> Path:
        return Path(self.env["BACKUP_DIR"])

    def start(self, label: str, args: list[str]) -> subprocess.Popen:
        log = open(self.root / f"{label}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args, cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((label, process, log))
        return process

    def manage(self, *args: str, timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=self.env, capture_output=True,
            text=True, timeout=timeout, input=input,
        )  # fmt: skip

    def log(self, label: str) -> str:
        return (self.root / f"{label}.log").read_text(errors="replace")

    def stop(self) -> None:
        for _, process, log in reversed(self.processes):
            process_stop(process)
            log.close()
        self.processes.clear()


def _host(name: str, root: Path, shared: dict) -> Host:
    root.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "CACHE_URL")}
    env.update(shared)
    env.update(
        BEILS_HOST=name, VAR_DIR=str(root / "var"), BACKUP_DIR=str(root / "backups"),
        MEDIA_ROOT=str(root / "media"), ERASURE_LEDGER_PATH=str(root / "backups" / "erasure-ledger.jsonl"),
    )  # fmt: skip
    return Host(name, root, env)


def _wait_for_http(host: Host, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{host.name}'s gunicorn exited: {host.log('web')[-3000:]}"
        try:
            requests.get(f"{host.url}/admin/login/", timeout=10)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise AssertionError(f"{host.name}'s gunicorn never answered: {host.log('web')[-3000:]}")


def _wait_for_worker(host: Host, label: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while "ready." not in host.log(label):
        assert time.monotonic() < deadline, f"{host.name}'s {label} never got ready: {host.log(label)[-3000:]}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def hosts(django_db_setup, django_db_blocker, s3_server, tmp_path_factory):  # noqa: F811
    """Host 1 (web + ops worker) and host 2 (web + default worker), started once per module."""
    import boto3

    with django_db_blocker.unblock():
        if connection.vendor != "mysql":
            pytest.skip("two hosts share one MariaDB")
        url = _database_url()
    bucket = f"beils-media-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    for db in (BROKER_DB, CACHE_DB):
        _redis_flush(db)
    shared = {
        "DATABASE_URL": url, "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{BROKER_DB}",
        "CACHE_URL": f"redis://127.0.0.1:6379/{CACHE_DB}", "MEDIA_S3_BUCKET": bucket,
        "MEDIA_S3_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "DEBUG": "false", "SECRET_KEY": SECRET, "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0", "STALE_WORK_MINUTES": "60", "LOG_LEVEL": "INFO",
    }  # fmt: skip
    root = tmp_path_factory.mktemp("two-hosts")
    shared["STATIC_ROOT"] = str(root / "static")  # each host's deploy runs collectstatic; one is enough here
    one, two = _host("host-1", root / "host-1", shared), _host("host-2", root / "host-2", shared)
    collected = one.manage("collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr[-2000:]
    celery = [sys.executable, "-m", "celery", "-A", "beils", "worker", "--pool=solo", "--without-gossip",
              "--without-mingle", "--loglevel=INFO"]  # fmt: skip
    try:
        for host in (one, two):
            host.port = free_port()
            host.env.update(GUNICORN_BIND=f"127.0.0.1:{host.port}", GUNICORN_WORKERS="2", GUNICORN_TIMEOUT="120")
            web = host.start("web", [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"])
            _wait_for_http(host, web)
        one.start("worker", [*celery, "-Q", "maintenance", "-n", "ops@host-1"])
        two.start("worker", [*celery, "-Q", "celery", "-n", "worker@host-2"])
        for host in (one, two):
            _wait_for_worker(host, "worker")
        yield one, two
    finally:
        one.stop()
        two.stop()


class Admin:
    """A person in a browser whose requests the load balancer sends to either host: one session
    (its cookie is valid on both, sessions live in the database)."""

    def __init__(self, email: str, password: str):
        self.http = requests.Session()
        self.email, self.password = email, password

    def login(self, host: Host) -> None:
        page = self.http.get(f"{host.url}/admin/login/", timeout=30)
        response = self.http.post(
            f"{host.url}/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": _csrf(page.text), "username": self.email, "password": self.password},
            timeout=30,
        )
        assert response.ok and "/admin/login/" not in response.url, response.text[-2000:]

    def get(self, host: Host, path: str, **kwargs) -> requests.Response:
        return self.http.get(f"{host.url}{path}", timeout=60, **kwargs)

    def post(self, host: Host, path: str, data: dict, *, form_page: str | None = None, **kwargs) -> requests.Response:
        """POST as a browser would from ``form_page`` (on the same host): with its CSRF token."""
        page = self.get(host, form_page or path)
        return self.http.post(
            f"{host.url}{path}", data={"csrfmiddlewaretoken": _csrf(page.text), **data}, timeout=120, **kwargs
        )


def _csrf(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def hidden_inputs(html: str, form_action: str) -> dict:
    """The hidden fields of the form that posts to ``form_action``."""
    start = html.index(f'action="{form_action}"')
    form = html[start : html.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def wait_for(condition, what: str, seconds: float = 120, hosts: tuple = ()) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {h.name} worker\n{h.log('worker')[-2500:]}" for h in hosts)
            raise AssertionError(f"never saw {what}\n{logs}")
        time.sleep(0.2)
