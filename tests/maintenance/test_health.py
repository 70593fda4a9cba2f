"""/health/ for monitoring (the site: database, broker, disk, backup freshness, beat's heartbeat,
restore tests) and /health/live for a load balancer (this node: database, broker, disk, its workers)."""

import shutil
from collections import namedtuple
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from beils.celery import app
from maintenance.models import Heartbeat
from tests import factories as f

# The checks run in threads, with their own database connections: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def healthy():
    f.BackupFactory(started_at=timezone.now() - timedelta(hours=2), restore_tested_at=timezone.now())
    Heartbeat.beat("celery")


def _json(client, page="/health/"):
    response = client.get(f"{page}?format=json")
    return response.status_code, {name.split("(")[0]: state for name, state in response.json().items()}


def test_a_healthy_salon_answers_200_without_a_login(client, healthy):
    status, checks = _json(client)

    assert status == 200
    assert checks == {
        "Database": "OK", "Broker": "OK", "Disk": "OK", "BackupFreshness": "OK", "BeatHeartbeat": "OK",
        "RestoreTested": "OK",
    }  # fmt: skip
    assert client.get("/health/").status_code == 200  # the HTML page for a person


def test_a_silent_beat_makes_the_monitor_alert(client, healthy):
    Heartbeat.objects.filter(name="celery").update(last_seen=timezone.now() - timedelta(minutes=30))

    status, checks = _json(client)

    assert status == 500
    assert checks["BeatHeartbeat"].startswith("Unavailable: beat or worker silent (last at ")
    assert checks["Database"] == "OK"


def test_no_good_backup_within_the_recovery_point_objective_makes_the_monitor_alert(client, healthy, settings):
    from backups.models import Backup

    Backup.objects.update(started_at=timezone.now() - timedelta(hours=settings.BACKUP_RPO_HOURS + 5))

    status, checks = _json(client)

    assert status == 500
    assert checks["BackupFreshness"].startswith(f"Unavailable: no good backup within {settings.BACKUP_RPO_HOURS} h")


def test_a_disk_below_twenty_percent_free_makes_the_monitor_alert(client, healthy, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100, 90, 10))

    status, checks = _json(client)

    assert status == 500
    assert checks["Disk"] == "Unavailable: database disk 10% free (below 20%)"


def test_an_unreachable_broker_makes_the_monitor_alert(client, healthy, monkeypatch):
    from maintenance import health

    monkeypatch.setattr(health, "broker_url", lambda: "redis://127.0.0.1:1/0")  # nothing listens there

    status, checks = _json(client)

    assert status == 500
    assert checks["Broker"].startswith("Unavailable: Celery broker unreachable")


def test_a_stale_backup_turns_the_site_red_but_leaves_every_node_in_the_load_balancer(client, healthy, settings):
    from backups.models import Backup

    Backup.objects.update(started_at=timezone.now() - timedelta(hours=settings.BACKUP_RPO_HOURS + 5))

    assert _json(client)[0] == 500
    status, checks = _json(client, "/health/live")
    assert status == 200
    assert checks == {"Database": "OK", "Broker": "OK", "Disk": "OK", "LocalWorkers": "OK"}


def test_a_new_installation_is_not_red_while_it_starts(client, installed, settings):
    installed(timezone.now() - timedelta(minutes=5))
    status, checks = _json(client)
    assert status == 200, checks

    installed(timezone.now() - timedelta(minutes=20))
    status, checks = _json(client)
    assert status == 500
    assert checks["BackupFreshness"].startswith("Unavailable: no good backup")
    assert checks["BeatHeartbeat"] == "Unavailable: beat or worker silent (never)"
    assert checks["RestoreTested"] == "OK"  # a week to run the first drill

    installed(timezone.now() - timedelta(days=settings.ALERT_RESTORE_TEST_DAYS + 1))
    assert (
        _json(client)[1]["RestoreTested"]
        == f"Unavailable: no restore test within {settings.ALERT_RESTORE_TEST_DAYS} days (never)"
    )


def test_an_old_restore_test_turns_the_site_red(client, healthy, installed, settings):
    from backups.models import Backup

    installed(timezone.now() - timedelta(days=60))
    Backup.objects.update(restore_tested_at=timezone.now() - timedelta(days=settings.ALERT_RESTORE_TEST_DAYS + 2))
    status, checks = _json(client)
    assert status == 500 and checks["RestoreTested"].startswith("Unavailable: no restore test within")


def test_the_node_is_out_of_the_load_balancer_when_its_own_worker_is_silent(client, healthy, settings):
    settings.HEALTH_WORKERS = ["ops@%h"]
    status, checks = _json(client, "/health/live")
    assert status == 500
    assert checks["LocalWorkers"].startswith("Unavailable: worker silent: ops@")


def test_the_node_is_live_when_its_own_worker_answers_through_the_broker(client, healthy, settings):
    """A real worker, named as Procfile.production names it, answers the broadcast ping."""
    import socket

    settings.HEALTH_WORKERS = ["ops@%h"]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10,
                      hostname=f"ops@{socket.gethostname()}"):  # fmt: skip
        status, checks = _json(client, "/health/live")
    assert status == 200, checks
