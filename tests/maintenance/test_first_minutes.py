"""Honest first minutes (issue 18): a new installation does not look red for what has simply not
happened yet; the heartbeat and the alert check run when the worker and beat start and right after
a backup; an alert clears as soon as its cause does."""

from datetime import timedelta

import pytest
from celery.signals import beat_init, worker_ready
from django.urls import reverse
from django.utils import timezone, translation

from beils.celery import app
from maintenance import tasks
from maintenance.alerts import alerts_check
from maintenance.models import Alert, Heartbeat
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    """Queued tasks run at once, in this process (the test plays the worker)."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def no_backup(monkeypatch):
    """The first backup is queued but not written: the test only looks at what was asked."""
    queued = []
    monkeypatch.setattr(tasks, "first_backup_queue", lambda: queued.append("backup") or True)
    return queued


@pytest.fixture
def calm_disks(settings):
    settings.ALERT_DISK_FREE_PERCENT = 0


def codes(alerts) -> set[str]:
    return {alert.code for alert in alerts}


def test_a_new_installation_has_no_alert_for_what_has_not_happened_yet(installed, calm_disks):
    installed(timezone.now() - timedelta(minutes=5))

    assert not alerts_check().still_open


def test_after_its_grace_a_missing_backup_and_a_silent_beat_are_alerts_but_the_first_drill_may_wait(
    installed, calm_disks, settings
):
    installed(timezone.now() - timedelta(minutes=20))
    assert codes(alerts_check().opened) == {"backup.rpo", "beat.silent"}

    installed(timezone.now() - timedelta(days=settings.ALERT_RESTORE_TEST_DAYS + 1))
    assert codes(alerts_check().opened) == {"backup.restore_test"}


def test_a_starting_worker_beats_queues_the_first_backup_and_checks_the_alerts(
    installed, calm_disks, eager, no_backup, settings
):
    installed(timezone.now() - timedelta(days=1))  # an installation whose worker was down
    stale = f.AlertFactory(code="beat.silent", message="Celery beat or worker silent")

    worker_ready.send(sender=None)

    assert Heartbeat.objects.get(name="celery").is_fresh
    assert no_backup == ["backup"]
    stale.refresh_from_db()
    assert stale.resolved_at is not None


def test_the_first_backup_is_queued_only_when_there_has_never_been_a_good_one(monkeypatch):
    from backups.tasks import run_backup

    sent = []
    monkeypatch.setattr(run_backup, "delay", lambda *args, **kwargs: sent.append(args))

    assert tasks.first_backup_queue() is True
    f.BackupFactory(started_at=timezone.now() - timedelta(days=3))
    assert tasks.first_backup_queue() is False
    assert len(sent) == 1


def test_a_starting_beat_sends_its_first_heartbeat_at_once(eager):
    beat_init.send(sender=None)

    assert Heartbeat.objects.get(name="celery").is_fresh


def test_a_heartbeat_after_a_silence_clears_the_alert_at_once(installed, calm_disks, eager, settings):
    installed(timezone.now() - timedelta(days=1))
    f.BackupFactory(started_at=timezone.now(), restore_tested_at=timezone.now())
    Heartbeat.objects.create(name="celery", last_seen=timezone.now() - timedelta(hours=1))
    assert codes(alerts_check().opened) == {"beat.silent"}

    tasks.heartbeat.delay()

    assert not Alert.objects.open().exists()


def test_a_good_backup_clears_the_backup_alert_as_soon_as_it_is_committed(
    installed, calm_disks, eager, django_capture_on_commit_callbacks
):
    installed(timezone.now() - timedelta(days=1))
    Heartbeat.beat("celery")
    f.BackupFactory(started_at=timezone.now() - timedelta(days=3), restore_tested_at=timezone.now())
    assert codes(alerts_check().opened) == {"backup.rpo"}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        f.BackupFactory(started_at=timezone.now())

    assert callbacks and not Alert.objects.open().exists()


def test_a_backup_with_no_alert_open_queues_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        f.BackupFactory(started_at=timezone.now())
    assert not callbacks


@pytest.mark.django_db(transaction=True)
def test_the_health_page_names_its_checks_for_people_in_their_language(client, installed):
    installed(timezone.now() - timedelta(minutes=1))

    page = client.get("/health/", HTTP_ACCEPT="text/html").content.decode()
    assert "Backup freshness" in page and "Restore test" in page and "BackupFreshness" not in page

    with translation.override("es"):
        from maintenance.health import BackupFreshness, BeatHeartbeat, check_title

        assert check_title(BackupFreshness()) == "Vigencia de la copia de seguridad"
        assert check_title(BeatHeartbeat()) == "Tareas en segundo plano (latido)"
    keys = client.get("/health/?format=json").json()
    assert any(key.startswith("BackupFreshness") for key in keys)  # monitors keep their keys


@pytest.mark.django_db(transaction=True)
def test_a_spanish_salon_s_health_page_is_in_spanish(client, installed, settings):
    settings.LANGUAGE_CODE = "es"
    installed(timezone.now() - timedelta(minutes=1))

    page = client.get("/health/", HTTP_ACCEPT="text/html").content.decode()

    assert "Estado del sistema" in page and "Vigencia de la copia de seguridad" in page
    assert "Prueba de restauración" in page and "System status" not in page


def test_a_new_installation_s_dashboard_says_what_is_under_way_instead_of_red(admin_browser, installed):
    installed(timezone.now() - timedelta(minutes=2))

    page = admin_browser.get(reverse("admin:maintenance_dashboard")).content.decode()

    assert 'id="rpo-pending"' in page and 'id="rto-pending"' in page
    assert "No good backup" not in page

    installed(timezone.now() - timedelta(days=30))
    page = admin_browser.get(reverse("admin:maintenance_dashboard")).content.decode()
    assert "No good backup" in page and 'id="rto-pending"' not in page


def test_the_dashboard_and_the_health_page_read_as_spanish(admin_user, admin_browser, client):
    from tests.test_admin_in_spanish import assert_reads_as_spanish

    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    f.BackupFactory(started_at=timezone.now() - timedelta(hours=3))
    f.RestoreDrillFactory(seconds=42.0)
    f.AlertFactory(code="disk.backups", message="el disco de copias de seguridad tiene un 3% libre")

    assert_reads_as_spanish(admin_browser.get(reverse("admin:maintenance_dashboard")), "dashboard")
    page = admin_browser.get(reverse("admin:maintenance_dashboard")).content.decode()
    assert "Prueba de restauración semanal" in page and "Se ejecuta cada domingo a las 05:00" in page


def test_a_pool_process_leaves_the_worker_s_process_group(tmp_path):
    """honcho stops ``make run`` by sending SIGTERM to each process group: a prefork pool process
    in a group of its own is stopped by its worker's warm shutdown, not killed mid-task."""
    import os

    from maintenance.monitoring import pool_process_started

    report = tmp_path / "groups"
    pid = os.fork()
    if pid == 0:  # the child plays the pool process
        try:
            before = os.getpgid(0)
            pool_process_started()
            report.write_text(f"{before} {os.getpgid(0)} {os.getpid()}")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    before, after, child = map(int, report.read_text().split())
    assert before == os.getpgid(0) and after == child != before
