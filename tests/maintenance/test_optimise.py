"""Optimising tables: OPTIMIZE TABLE on MariaDB, VACUUM on SQLite; ADMIN only, audited, never
while a backup runs, and a monthly job that exists but is off until someone switches it on.

``transactional_db``: VACUUM cannot run inside the transaction a plain ``db`` test wraps."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from audit.models import AuditEntry, Outcome
from backups.locks import maintenance_lock
from maintenance import operations
from maintenance.models import Operation, OperationState
from maintenance.operations import operation_run
from maintenance.optimise import OptimiseError, fragmented_tables, table_optimise
from maintenance.schedules import sync_schedules
from maintenance.tasks import optimise_tables

START = reverse("admin:maintenance_dashboard_start")


@pytest.fixture
def queued(monkeypatch):
    ids = []
    monkeypatch.setattr(operations, "_queue", lambda operation: ids.append(operation.pk))
    return ids


@pytest.fixture
def backup_running():
    """Another process's backup: the maintenance lock held from another thread (connection)."""
    taken, release = threading.Event(), threading.Event()

    def hold():
        try:
            with maintenance_lock():
                taken.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    yield
    release.set()
    thread.join()


def test_an_admin_optimises_a_table_and_it_is_audited(transactional_db, admin_user):
    results = table_optimise(tables=["crm_client"], actor=admin_user)

    if connection.vendor == "mysql":
        assert set(results) == {"crm_client"} and not results["crm_client"].startswith("error")
    else:
        assert results == {"*": "vacuumed"}
    entry = AuditEntry.objects.get(action="maintenance.optimise.done")
    assert entry.actor == admin_user and entry.outcome == Outcome.SUCCESS and entry.detail["tables"] == ["crm_client"]


def test_optimising_from_the_dashboard_runs_as_an_operation(transactional_db, admin_browser, admin_user, queued):
    response = admin_browser.post(START, {"kind": "OPTIMISE", "tables": ["crm_client", "sales_cart"]})
    assert response.status_code == 302

    operation = operation_run(Operation.objects.get(pk=queued[0]))

    assert operation.state == OperationState.DONE, operation.message
    assert operation.params == {"tables": ["crm_client", "sales_cart"]}
    assert AuditEntry.objects.filter(action="maintenance.optimise.done", actor=admin_user).exists()


def test_only_admins_may_optimise(transactional_db, manager_browser, staff_browser, queued):
    assert manager_browser.post(START, {"kind": "OPTIMISE", "tables": ["crm_client"]}).status_code == 403
    assert staff_browser.post(START, {"kind": "OPTIMISE", "tables": ["crm_client"]}).status_code == 403
    assert not queued and not Operation.objects.exists()


def test_optimise_is_refused_while_a_backup_runs(transactional_db, admin_user, backup_running):
    with pytest.raises(OptimiseError, match="A backup, restore or migration is already running"):
        table_optimise(tables=["crm_client"], actor=admin_user)

    refused = AuditEntry.objects.get(action="maintenance.optimise.refused")
    assert refused.outcome == Outcome.FAILURE and refused.actor == admin_user
    assert not AuditEntry.objects.filter(action="maintenance.optimise.done").exists()


def test_the_dashboard_refuses_to_queue_an_optimise_while_a_backup_runs(
    transactional_db, admin_browser, queued, backup_running
):
    page = admin_browser.get(reverse("admin:maintenance_dashboard")).content.decode()
    assert 'id="busy"' in page

    response = admin_browser.post(START, {"kind": "OPTIMISE", "tables": ["crm_client"]}, follow=True)

    assert "Not optimised" in response.content.decode()
    assert not queued and AuditEntry.objects.filter(action="maintenance.optimise.refused").exists()


def test_unknown_tables_are_refused(transactional_db):
    with pytest.raises(OptimiseError, match="No such table"):
        table_optimise(tables=["crm_client; DROP TABLE crm_client"])


def test_the_monthly_optimise_is_scheduled_but_off_by_default(transactional_db):
    sync_schedules()
    task = PeriodicTask.objects.get(name="Monthly optimise")
    assert task.task == "maintenance.optimise_tables" and task.enabled is False
    assert task.crontab.day_of_month == "1"


def test_the_scheduled_optimise_picks_the_most_fragmented_tables(transactional_db, settings):
    settings.OPTIMISE_MIN_FREE_BYTES = 0
    fragmented = fragmented_tables(min_free_bytes=0)
    assert all(set(t) == {"table", "bytes", "free_bytes"} for t in fragmented)

    optimise_tables.apply()

    if fragmented:
        assert AuditEntry.objects.filter(action="maintenance.optimise.done", actor=None).exists()


def test_the_optimise_command_has_a_dry_run(transactional_db, capsys):
    call_command("optimise", "--dry-run", "crm_client")
    assert "Would optimise: crm_client" in capsys.readouterr().out
    assert not AuditEntry.objects.exists()
