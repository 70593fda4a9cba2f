"""The maintenance dashboard: one cheap, permission-checked page with the charts' data, the
scheduled jobs' last runs, and buttons that queue long operations with a pollable progress."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from backups.models import Backup, BackupStatus
from maintenance import operations
from maintenance.models import Alert, LifecycleRun, Operation, OperationKind, OperationState, TaskRun
from maintenance.operations import operation_run
from maintenance.tasks import heartbeat
from tests import factories as f
from transfer.tasks import run_job

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:maintenance_dashboard")
START = reverse("admin:maintenance_dashboard_start")

#: Session, user, permissions (3), then the page: 30 days of backups, the latest good one, the
#: latest drill, table sizes, the last snapshot, disks, periodic tasks, task runs, open alerts,
#: operations, and the lock probe.
QUERY_BUDGET = 18


@pytest.fixture
def queued(monkeypatch):
    """The test plays the Celery worker: queued operations are collected, not sent."""
    ids = []
    monkeypatch.setattr(operations, "_queue", lambda operation: ids.append(operation.pk))
    return ids


def progress(browser, pk) -> dict:
    return browser.get(reverse("admin:maintenance_operation_progress", args=[pk])).json()


def test_the_dashboard_shows_backups_tables_disks_objectives_jobs_and_alerts(admin_browser):
    now = timezone.now()
    f.BackupFactory(started_at=now - timedelta(days=1, hours=1), size_bytes=3 * 2**20)
    f.BackupFactory(started_at=now - timedelta(days=2), status=BackupStatus.FAILED, size_bytes=None)
    f.RestoreDrillFactory(seconds=42.0)
    f.AlertFactory(message="backups disk is 3% free (below 20 %)")
    TaskRun.objects.create(task="maintenance.backup", started_at=now, finished_at=now, outcome="FAILURE", error="boom")

    response = admin_browser.get(DASHBOARD)

    assert response.status_code == 200
    page = response.content.decode()
    for section in ("alerts", "rpo", "rto", "disks", "operations", "backup-timeline", "table-sizes", "scheduled-jobs"):
        assert f'id="{section}"' in page, section
    assert "backups disk is 3% free" in page and "42.0 s" in page and "meets the 1 h tier" in page
    assert "chart.umd.min.js" in page and "cdn" not in page.lower()
    charts = response.context["charts"]
    assert len(charts["timeline"]["labels"]) == 30
    assert 3.0 in charts["timeline"]["size_mb"] and 1 in charts["timeline"]["failures"]
    assert "crm_client" in charts["tables"]["labels"] or connection.vendor == "sqlite"
    assert {d["label"] for d in charts["disks"]} >= {"backups"}
    jobs = {job["name"]: job for job in response.context["d"]["jobs"]}
    assert jobs["Nightly backup"]["run"].outcome == "FAILURE"
    assert jobs["Monthly optimise"]["enabled"] is False
    assert 'id="start-backup"' in page and 'id="start-optimise"' in page


def test_the_dashboard_is_cheap(admin_browser):
    for days in range(20):
        f.BackupFactory(started_at=timezone.now() - timedelta(days=days))
    f.AlertFactory.create_batch(5)
    admin_browser.get(DASHBOARD)
    with CaptureQueriesContext(connection) as queries:
        admin_browser.get(DASHBOARD)
    assert len(queries) <= QUERY_BUDGET, [q["sql"][:120] for q in queries]


def test_managers_see_the_dashboard_and_may_archive_but_not_back_up_or_optimise(manager_browser, queued):
    page = manager_browser.get(DASHBOARD).content.decode()
    assert 'id="start-archive-dry-run"' in page
    assert 'id="start-backup"' not in page and 'id="start-optimise"' not in page
    assert manager_browser.post(START, {"kind": "BACKUP"}).status_code == 403
    assert manager_browser.post(START, {"kind": "OPTIMISE"}).status_code == 403
    assert manager_browser.post(START, {"kind": "ARCHIVE_DRY"}).status_code == 302
    assert len(queued) == 1


def test_staff_and_strangers_cannot_open_the_dashboard(staff_browser, anonymous_browser):
    assert staff_browser.get(DASHBOARD).status_code == 403
    assert staff_browser.post(START, {"kind": "BACKUP"}).status_code == 403
    assert anonymous_browser.get(DASHBOARD).status_code == 302  # to the login page
    assert 'id="maintenance-dashboard-link"' not in staff_browser.get(reverse("admin:index")).content.decode()


def test_the_admin_index_links_to_the_dashboard(admin_browser):
    page = admin_browser.get(reverse("admin:index")).content.decode()
    assert 'id="maintenance-dashboard-link"' in page and DASHBOARD in page


def test_back_up_now_queues_an_operation_whose_progress_reaches_a_verified_backup(admin_browser, admin_user, queued):
    response = admin_browser.post(START, {"kind": "BACKUP"})
    assert response.status_code == 302 and response.url == DASHBOARD
    operation = Operation.objects.get(pk=queued[0])
    assert operation.state == OperationState.QUEUED and operation.actor == admin_user
    assert progress(admin_browser, operation.pk)["percent"] == 0
    assert AuditEntry.objects.filter(action="maintenance.operation.requested", actor=admin_user).exists()

    operation_run(operation)

    status = progress(admin_browser, operation.pk)
    assert status["state"] == "DONE" and status["percent"] == 100 and not status["active"]
    backup = Backup.objects.get(pk=operation.result["backup_id"])
    assert backup.status == BackupStatus.SUCCESS and backup.verify_ok and backup.created_by == admin_user
    assert backup.file_name in admin_browser.get(DASHBOARD).content.decode()


def test_a_second_backup_is_refused_while_the_first_is_queued(admin_browser, queued):
    admin_browser.post(START, {"kind": "BACKUP"})
    response = admin_browser.post(START, {"kind": "BACKUP"}, follow=True)
    assert "already queued or running" in response.content.decode()
    assert len(queued) == 1


def test_an_archive_dry_run_from_the_dashboard_reports_what_it_would_change(admin_browser, queued):
    admin_browser.post(START, {"kind": "ARCHIVE_DRY"})
    operation = operation_run(Operation.objects.get(pk=queued[0]))
    assert operation.state == OperationState.DONE and "would change" in operation.message
    assert LifecycleRun.objects.get(pk=operation.result["run_id"]).dry_run is True


def test_a_failed_operation_says_why(admin_browser, queued, monkeypatch):
    from backups import services

    def broken(**kwargs):
        raise services.BackupError("the disk is full")

    monkeypatch.setattr(services, "backup_create", broken)
    admin_browser.post(START, {"kind": "BACKUP"})
    operation = operation_run(Operation.objects.get(pk=queued[0]))
    assert operation.state == OperationState.FAILED and operation.message == "the disk is full"
    assert progress(admin_browser, operation.pk)["state_label"] == "Failed"


def test_unknown_operations_are_refused(admin_browser):
    assert admin_browser.post(START, {"kind": "DROP_EVERYTHING"}).status_code == 403
    assert admin_browser.get(START).status_code == 403


def test_every_maintenance_task_run_is_recorded_with_its_outcome():
    heartbeat.apply()
    run = TaskRun.objects.get(task="maintenance.heartbeat")
    assert run.outcome == "SUCCESS" and run.last_success_at and run.seconds is not None

    run_job.apply(args=(999_999,))  # no such job: the task raises
    failed = TaskRun.objects.get(task="maintenance.run_job")
    assert failed.outcome == "FAILURE" and "does not exist" in failed.error


def test_the_progress_endpoint_is_json_for_viewers_only(admin_browser, staff_browser):
    operation = Operation.objects.create(kind=OperationKind.BACKUP, percent=40, message="4,096 KiB written")
    url = reverse("admin:maintenance_operation_progress", args=[operation.pk])
    assert json.loads(admin_browser.get(url).content)["percent"] == 40
    assert staff_browser.get(url).status_code == 403
    assert not Alert.objects.exists()
