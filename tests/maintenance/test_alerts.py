"""Alerts: each threshold opens one alert, mails the admins once, shows in the admin, and
resolves itself when the condition clears."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from maintenance.alerts import alerts_check
from maintenance.dbhealth import database_health
from maintenance.models import Alert, Heartbeat
from maintenance.schedules import JOBS
from maintenance.tasks import check_alerts
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def well_kept(settings, admin_user):
    """A salon with nothing wrong: a fresh, restore-tested backup, beat alive, disks fine."""
    settings.ADMINS = [("Ops", "ops@salon.example")]
    settings.ALERT_DISK_FREE_PERCENT = 0
    now = timezone.now()
    backup = f.BackupFactory(started_at=now - timedelta(hours=2), verified_at=now, restore_tested_at=now)
    Heartbeat.beat("celery")
    return backup


def codes(result) -> set[str]:
    return {alert.code for alert in result}


def test_a_well_kept_salon_raises_no_alert(well_kept):
    result = alerts_check()
    assert not result.still_open and not Alert.objects.exists() and not mail.outbox


def test_a_full_disk_simulated_by_configuration_opens_an_alert_mailed_once(well_kept, settings, admin_user):
    settings.ALERT_DISK_FREE_PERCENT = 100  # no disk has 100 % free: "full" by configuration

    first = alerts_check()
    second = alerts_check()

    disk_alerts = {code for code in codes(first.opened) if code.startswith("disk.")}
    assert disk_alerts and "disk.backups" in disk_alerts
    assert not second.opened and codes(second.still_open) == disk_alerts
    assert Alert.objects.open().count() == len(disk_alerts)
    assert len(mail.outbox) == len(disk_alerts)  # once, not at every check
    message = mail.outbox[0]
    assert set(message.to) == {"ops@salon.example", admin_user.email}
    assert "free (below 100 %)" in message.subject
    assert AuditEntry.objects.filter(action="maintenance.alert.opened").count() == len(disk_alerts)


def test_an_alert_resolves_itself_when_the_condition_clears(well_kept, settings):
    settings.ALERT_DISK_FREE_PERCENT = 100
    alerts_check()
    mail.outbox.clear()
    settings.ALERT_DISK_FREE_PERCENT = 0

    result = alerts_check()

    assert codes(result.resolved) >= {"disk.backups"} and not result.still_open
    assert not Alert.objects.open().exists()
    assert all(alert.resolved_at for alert in Alert.objects.all())
    assert mail.outbox and all("resolved" in m.subject for m in mail.outbox)
    assert AuditEntry.objects.filter(action="maintenance.alert.resolved").exists()


def test_a_stale_backup_opens_the_recovery_point_alert_until_a_fresh_one_exists(well_kept):
    well_kept.started_at = timezone.now() - timedelta(hours=30)
    well_kept.save()

    assert codes(alerts_check().opened) == {"backup.rpo"}
    assert "recovery point objective (26 h)" in mail.outbox[0].subject

    f.BackupFactory(started_at=timezone.now(), restore_tested_at=timezone.now())
    assert codes(alerts_check().resolved) == {"backup.rpo"}


def test_a_silent_beat_opens_an_alert(well_kept):
    Heartbeat.objects.filter(name="celery").update(last_seen=timezone.now() - timedelta(minutes=30))

    assert codes(alerts_check().opened) == {"beat.silent"}

    Heartbeat.beat("celery")
    assert codes(alerts_check().resolved) == {"beat.silent"}


def test_no_restore_test_within_eight_days_opens_an_alert(well_kept):
    well_kept.restore_tested_at = timezone.now() - timedelta(days=9)
    well_kept.save()

    result = alerts_check()

    assert codes(result.opened) == {"backup.restore_test"}
    assert Alert.objects.get().message == "no restore test within 8 days"


def test_a_table_growing_abnormally_opens_an_alert(well_kept, settings):
    settings.ALERT_TABLE_GROWTH_MIN_ROWS = 10
    settings.ALERT_TABLE_GROWTH_PERCENT = 100
    f.ClientFactory.create_batch(5)
    database_health(save=True)  # the baseline
    f.ClientFactory.create_batch(20)  # five-fold in a moment

    result = alerts_check()

    assert "growth.crm_client" in codes(result.opened)
    alert = Alert.objects.get(code="growth.crm_client")
    assert "crm_client grew abnormally: +20 rows to 25" in alert.message


def test_normal_growth_raises_nothing(well_kept, settings):
    settings.ALERT_TABLE_GROWTH_MIN_ROWS = 10
    f.ClientFactory.create_batch(30)
    database_health(save=True)
    f.ClientFactory.create_batch(12)  # +40 %

    assert not {c for c in codes(alerts_check().opened) if c.startswith("growth.")}


def test_a_long_open_alert_is_mailed_again_after_the_reminder_period(well_kept, settings):
    settings.ALERT_DISK_FREE_PERCENT = 100
    alerts_check()
    sent = len(mail.outbox)
    alerts_check(now=timezone.now() + timedelta(hours=settings.ALERT_REMIND_HOURS + 1))
    assert len(mail.outbox) == 2 * sent
    assert "still open" in mail.outbox[-1].subject


def test_the_check_is_a_scheduled_job_and_its_task_runs(well_kept, settings):
    assert any(job.task == "maintenance.check_alerts" for job in JOBS)
    settings.ALERT_DISK_FREE_PERCENT = 100

    check_alerts.apply()

    assert Alert.objects.open().filter(code="disk.backups").exists()


def test_open_alerts_show_on_the_admin_index_and_in_their_changelist(well_kept, settings, admin_browser, staff_browser):
    settings.ALERT_DISK_FREE_PERCENT = 100
    alerts_check()

    index = admin_browser.get(reverse("admin:index")).content.decode()
    assert 'id="maintenance-banner"' in index and "backups disk is" in index
    assert reverse("admin:maintenance_dashboard") in index
    changelist = admin_browser.get(reverse("admin:maintenance_alert_changelist") + "?state=open").content.decode()
    assert "backups disk is" in changelist
    assert 'id="maintenance-banner"' not in staff_browser.get(reverse("admin:index")).content.decode()


def test_the_alerts_command_exits_non_zero_while_an_alert_is_open(well_kept, settings, capsys):
    call_command("alerts")
    assert "No open alerts." in capsys.readouterr().out

    settings.ALERT_DISK_FREE_PERCENT = 100
    with pytest.raises(SystemExit) as exit_:
        call_command("alerts", "--json")
    assert exit_.value.code == 1
    assert '"disk.backups"' in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_a_finished_backup_clears_the_recovery_point_alert_at_once(well_kept):
    """A real worker (the ops worker's queue) runs the backup; the alert check it queues on
    success resolves the alert, without waiting for the quarter-hour schedule."""
    from celery.contrib.testing.worker import start_worker

    from backups.tasks import run_backup
    from beils.celery import app
    from tests.maintenance.test_tasks import wait_for

    well_kept.started_at = timezone.now() - timedelta(hours=30)
    well_kept.save()
    assert codes(alerts_check().opened) == {"backup.rpo"}

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=["maintenance"]):
        run_backup.delay()
        assert wait_for(lambda: Alert.objects.filter(code="backup.rpo", resolved_at__isnull=False).exists(), 60)
