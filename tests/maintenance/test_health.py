"""/health/ for an uptime monitor: database, broker, disk, backup freshness and beat's heartbeat."""

import shutil
from collections import namedtuple
from datetime import timedelta

import pytest
from django.utils import timezone

from maintenance.models import Heartbeat
from tests import factories as f

# The checks run in threads, with their own database connections: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def healthy():
    f.BackupFactory(started_at=timezone.now() - timedelta(hours=2))
    Heartbeat.beat("celery")


def _json(client):
    response = client.get("/health/?format=json")
    return response.status_code, {name.split("(")[0]: state for name, state in response.json().items()}


def test_a_healthy_salon_answers_200_without_a_login(client, healthy):
    status, checks = _json(client)

    assert status == 200
    assert checks == {"Database": "OK", "Broker": "OK", "Disk": "OK", "BackupFreshness": "OK", "BeatHeartbeat": "OK"}
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
