"""Two beat processes send each periodic job once per slot (maintenance/beat.py), and the jobs
that need the machine holding BACKUP_DIR go to the "maintenance" queue."""

from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from celery.schedules import crontab, schedule
from celery.signals import before_task_publish
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from beils.celery import app
from maintenance.beat import OncePerSlotScheduler, schedule_slot, slot_claim
from maintenance.models import ScheduleSlot

pytestmark = pytest.mark.django_db


def test_a_crontab_slot_is_its_minute_and_an_interval_slot_its_interval_from_the_epoch():
    early, late = datetime(2026, 12, 3, 2, 0, 1, tzinfo=UTC), datetime(2026, 12, 3, 2, 0, 59, tzinfo=UTC)
    nightly = crontab(minute="0", hour="2")
    assert schedule_slot(nightly, early) == schedule_slot(nightly, late) == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert schedule_slot(nightly, late + timedelta(seconds=2)) != schedule_slot(nightly, late)
    five = schedule(timedelta(minutes=5))
    assert schedule_slot(five, datetime(2026, 12, 3, 2, 4, 59, tzinfo=UTC)) == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert schedule_slot(five, datetime(2026, 12, 3, 2, 5, 0, tzinfo=UTC)) == datetime(2026, 12, 3, 2, 5, tzinfo=UTC)


def test_a_slot_is_claimed_once_and_the_claims_of_last_week_go():
    slot = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    ScheduleSlot.objects.create(name="Nightly backup", slot=slot - timedelta(days=8), host="old")
    assert slot_claim("Nightly backup", slot, host="ops-1") is True
    assert slot_claim("Nightly backup", slot, host="ops-2") is False
    assert slot_claim("Nightly archive", slot, host="ops-2") is True
    assert list(ScheduleSlot.objects.filter(name="Nightly backup").values_list("host", flat=True)) == ["ops-1"]
    noted = ScheduleSlot.objects.get(name="Nightly backup", slot=slot)
    assert (noted.duplicates, noted.duplicate_host) == (1, "ops-2")


@pytest.fixture
def sent():
    """Every task message published, by any app, while the test runs."""
    messages = []

    def record(sender=None, headers=None, routing_key=None, **_):
        messages.append((sender, routing_key, (headers or {}).get("celery_beat_task")))

    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)


def test_two_beats_send_a_due_job_once(transactional_db, sent, caplog):
    """Two schedulers (as two beat processes would run them) find the nightly backup due at the
    same moment; they publish to a real (in-memory) broker, and only one message goes out."""
    broker = Celery("two-beats", broker="memory://", set_as_current=False)
    broker.conf.task_routes = app.conf.task_routes
    row = PeriodicTask.objects.get(name="Nightly backup")
    first, second = (OncePerSlotScheduler(app=broker, lazy=True) for _ in range(2))

    first.apply_async(ModelEntry(row, app=broker), advance=False)
    second.apply_async(ModelEntry(row, app=broker), advance=False)

    assert sent == [("maintenance.backup", "maintenance", True)]
    assert ScheduleSlot.objects.filter(name="Nightly backup").count() == 1
    assert "already sent by the beat on" in caplog.text


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("maintenance.backup", "maintenance"),
        ("maintenance.verify_backup", "maintenance"),
        ("maintenance.copy_backup_offsite", "maintenance"),
        ("maintenance.prune_backups", "maintenance"),
        ("maintenance.restore_drill", "maintenance"),
        ("maintenance.archive", "maintenance"),
        ("maintenance.cleanup", "maintenance"),
        ("maintenance.run_operation", "maintenance"),
        ("maintenance.reap_stale_work", "maintenance"),
        ("maintenance.check_alerts", "maintenance"),
        ("maintenance.heartbeat", "maintenance"),
        ("maintenance.run_job", "celery"),
        ("legacy.import", "celery"),
    ],
)
def test_operations_go_to_the_ops_worker_and_imports_to_any_worker(task, queue):
    route = app.amqp.router.route({}, task)
    assert route["queue"].name == queue


def test_the_admin_lists_each_run_and_the_duplicates_skipped(admin_browser, manager_browser, staff_browser):
    from django.urls import reverse

    slot = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    slot_claim("Nightly backup", slot, host="ops-1")
    slot_claim("Nightly backup", slot, host="ops-2")
    url = reverse("admin:maintenance_scheduleslot_changelist")
    page = admin_browser.get(url)
    assert page.status_code == 200
    assert b"ops-1" in page.content and b"ops-2" in page.content
    assert manager_browser.get(url).status_code == 200  # MANAGER may look at maintenance
    assert staff_browser.get(url).status_code == 403
