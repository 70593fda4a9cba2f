import time

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from beils.celery import app
from maintenance.models import Heartbeat
from maintenance.schedules import JOBS, sync_schedules
from maintenance.tasks import heartbeat


def wait_for(predicate, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_real_worker_runs_the_heartbeat_through_the_configured_broker(transactional_db):
    """In CI the broker is Redis; with no configuration it is the embedded one."""
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["maintenance"]):
        heartbeat.delay()
        assert wait_for(lambda: Heartbeat.objects.filter(name="celery").exists())


def test_the_embedded_broker_needs_no_server(tmp_path):
    folders = {name: tmp_path / name for name in ("queue", "control", "processed")}
    for folder in folders.values():
        folder.mkdir()
    embedded = Celery("embedded-test", broker="filesystem://", set_as_current=False)
    embedded.conf.broker_transport_options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "control_folder": str(folders["control"]),
        "processed_folder": str(folders["processed"]),
    }
    marker = tmp_path / "ran"

    @embedded.task(name="embedded.touch")
    def touch(path):
        open(path, "w").close()

    with start_worker(embedded, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        touch.delay(str(marker))
        assert wait_for(marker.exists)


def test_the_heartbeat_task_records_the_time(db):
    heartbeat.apply()
    first = Heartbeat.objects.get(name="celery").last_seen
    heartbeat.apply()
    assert Heartbeat.objects.get(name="celery").last_seen >= first
    assert Heartbeat.objects.count() == 1


def test_every_job_is_scheduled_after_migrate_and_admin_edits_survive(db):
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert {job.name for job in JOBS} <= names
    task = PeriodicTask.objects.get(name="Heartbeat")
    task.enabled = False
    task.save()
    assert sync_schedules() == []
    assert PeriodicTask.objects.get(name="Heartbeat").enabled is False


def test_task_time_limits_stay_below_the_broker_visibility_timeout():
    if settings.CELERY_BROKER_EMBEDDED:
        pytest.skip("the embedded broker has no visibility timeout")
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_TASK_TIME_LIMIT
