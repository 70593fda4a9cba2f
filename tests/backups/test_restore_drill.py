"""The restore drill: the newest good backup restored into a scratch database, its tables and
its invoice chain verified there, and the recovery time recorded against the RTO.

``transactional_db``: the backup is read by mariadb-dump (or SQLite's backup API) from its own
connection, so the data must be committed."""

import itertools
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from audit.models import AuditEntry, Outcome
from backups.drill import restore_drill, rto_tier
from backups.models import Backup, RestoreDrill
from backups.services import BackupError, backup_create
from backups.tasks import verify_backup
from demo.services import demo_data_seed
from sales.models import Invoice

mariadb_only = pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB")


@pytest.fixture
def salon(transactional_db):
    demo_data_seed(clients=12, random_seed=5)
    assert Invoice.objects.exists()


def scratch_databases() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SHOW DATABASES")
        # Only this test database's own: others run their tests on the same server meanwhile.
        prefix = f"{connection.settings_dict['NAME']}_rtest_"
        return {name for (name,) in cursor.fetchall() if name.startswith(prefix)}


@pytest.mark.mariadb
@mariadb_only
def test_a_drill_on_mariadb_restores_verifies_and_records_the_recovery_time(salon, admin_user):
    backup = backup_create()
    before = scratch_databases()

    drill = restore_drill(actor=admin_user)

    assert drill.outcome == Outcome.SUCCESS and drill.backup == backup and drill.engine == "mariadb"
    assert 0 < drill.detail["restored_seconds"] <= drill.seconds < 3600
    assert drill.meets_rto and drill.rto_hours == 1 and drill.detail["rto_tier_hours"] == 1
    assert drill.invoices == Invoice.objects.count() and not drill.detail["invoice_problems"]
    assert drill.tables == len(backup.tables) and drill.rows == backup.row_count
    backup.refresh_from_db()
    assert backup.restore_tested_at is not None and backup.verify_ok
    assert scratch_databases() == before  # the scratch copy is gone
    entry = AuditEntry.objects.get(action="maintenance.backup.restore_drill")
    assert entry.actor == admin_user and entry.detail["meets_rto"] is True


def test_a_drill_checks_the_invoice_chain_in_the_restored_copy(salon):
    backup_create()
    drill = restore_drill()
    assert drill.outcome == Outcome.SUCCESS
    assert drill.invoices == Invoice.objects.count() > 0


def test_a_drill_fails_when_the_restored_invoice_chain_is_broken(salon):
    tampered = Invoice.objects.order_by("pk")[2]
    with connection.cursor() as cursor:  # behind the application's back, as an intruder would
        cursor.execute(f"UPDATE {Invoice._meta.db_table} SET hash = %s WHERE id = %s", ["f" * 64, tampered.pk])
    backup_create()

    with pytest.raises(BackupError, match="invoice chain in the restored copy is broken"):
        restore_drill()

    drill = RestoreDrill.objects.get()
    assert drill.outcome == Outcome.FAILURE and tampered.number in drill.error
    assert drill.meets_rto is None
    assert AuditEntry.objects.filter(action="maintenance.backup.restore_drill_failed").exists()
    assert Backup.objects.get().verify_ok is False


def test_the_restoredrill_command_prints_the_measured_time_as_json(salon, capsys):
    backup_create()
    call_command("restoredrill", "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] and result["meets_rto"] and result["seconds"] > 0 and result["invoices"] > 0


def test_the_restoredrill_command_fails_without_a_backup(transactional_db):
    with pytest.raises(CommandError, match="no good backup"):
        call_command("restoredrill")


def test_a_drill_that_misses_the_recovery_time_objective_exits_non_zero(salon, settings, monkeypatch):
    from backups import drill as drill_module

    backup_create()
    settings.BACKUP_RTO_HOURS = 1
    ticks = itertools.chain([0.0, 5000.0], itertools.repeat(7200.0))  # start, restored, finished: two hours
    monkeypatch.setattr(drill_module, "clock", lambda: next(ticks))
    with pytest.raises(SystemExit) as exit_:
        call_command("restoredrill")
    assert exit_.value.code == 1
    assert RestoreDrill.objects.get().meets_rto is False


def test_a_restore_test_of_no_named_backup_is_a_drill_as_the_weekly_test_was_scheduled_before(salon):
    backup_create()
    verify_backup.apply(kwargs={"restore_test": True})
    assert RestoreDrill.objects.get().outcome == Outcome.SUCCESS


def test_the_weekly_restore_test_is_scheduled_as_the_drill_task_and_runs_it(salon):
    from django_celery_beat.models import PeriodicTask

    from beils.celery import app

    task = PeriodicTask.objects.get(name="Weekly restore test")
    assert (task.task, task.kwargs, task.crontab.day_of_week, task.crontab.hour) == (
        "maintenance.restore_drill",
        "{}",
        "0",
        "5",
    )
    backup_create()
    app.tasks[task.task].apply(kwargs=json.loads(task.kwargs))
    assert RestoreDrill.objects.get().outcome == Outcome.SUCCESS


def test_the_drill_shows_on_the_dashboard(salon, admin_browser):
    backup_create()
    drill = restore_drill()
    page = admin_browser.get(reverse("admin:maintenance_dashboard")).content.decode()
    assert f"{drill.seconds:.1f} s" in page and "meets the 1 h tier" in page


def test_the_rto_tiers():
    assert [rto_tier(s) for s in (10, 3600, 3601, 5 * 3600, 30 * 3600, None)] == [1, 1, 4, 24, None, None]
