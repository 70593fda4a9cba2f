from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEntry
from backups.models import Backup, BackupKind, BackupStatus
from backups.services import backup_create, backup_path
from backups.tasks import run_backup, verify_backup
from tests.helpers import api_as

CHANGELIST = reverse("admin:backups_backup_changelist")
RUN = reverse("admin:backups_backup_run")


# Plain ``db`` (a transaction per test): in autocommit, on_commit would send real messages to
# the broker instead of letting the test capture them.
@pytest.fixture
def backup(db):
    return backup_create()


def test_the_catalogue_shows_status_size_and_verified_badges(admin_browser, backup):
    backup.verify_ok, backup.verified_at = True, timezone.now()
    backup.save()
    page = admin_browser.get(CHANGELIST).content.decode()
    assert backup.file_name in page
    assert "✔ verified" in page and "Good" in page
    assert 'id="backup-now"' in page


def test_back_up_now_queues_the_task_and_the_task_writes_a_backup(
    admin_browser, admin_user, django_capture_on_commit_callbacks, db
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_browser.post(RUN)
    assert response.status_code == 302 and len(callbacks) == 1
    assert AuditEntry.objects.filter(action="maintenance.backup.requested", actor=admin_user).exists()

    run_backup.apply(args=(admin_user.pk, BackupKind.MANUAL))
    made = Backup.objects.get()
    assert made.status == BackupStatus.SUCCESS and made.verify_ok is True and made.created_by == admin_user


def test_only_admins_may_back_up_verify_or_download(manager_browser, staff_browser, backup):
    download = reverse("admin:backups_backup_download", args=[backup.pk])
    assert manager_browser.get(CHANGELIST).status_code == 200  # managers see the catalogue
    assert 'id="backup-now"' not in manager_browser.get(CHANGELIST).content.decode()
    assert manager_browser.post(RUN).status_code == 403
    assert manager_browser.get(download).status_code == 403
    assert staff_browser.get(CHANGELIST).status_code == 403
    assert staff_browser.post(RUN).status_code == 403


def test_a_download_streams_the_file_and_is_audited(admin_browser, admin_user, backup):
    response = admin_browser.get(reverse("admin:backups_backup_download", args=[backup.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == backup_path(backup).read_bytes()
    entry = AuditEntry.objects.get(action="maintenance.backup.downloaded")
    assert entry.actor == admin_user and entry.target_id == str(backup.pk)


def test_the_verify_action_queues_verification(admin_browser, backup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_browser.post(CHANGELIST, {"action": "restore_test_selected", "_selected_action": [backup.pk]})
    assert len(callbacks) == 1
    verify_backup.apply(args=(backup.pk, False, None))
    backup.refresh_from_db()
    assert backup.verify_ok is True


def test_a_stale_backup_raises_the_rpo_notice(admin_browser, backup, settings):
    assert "recovery point objective" not in admin_browser.get(CHANGELIST).content.decode()
    Backup.objects.filter(pk=backup.pk).update(
        started_at=timezone.now() - timedelta(hours=settings.BACKUP_RPO_HOURS + 1)
    )
    assert "recovery point objective" in admin_browser.get(CHANGELIST).content.decode()


def test_a_failed_backup_emails_the_admins(db, settings):
    settings.ADMINS = [("Owner", "owner@salon.test")]
    settings.BACKUP_MIN_FREE_BYTES = 2**62
    run = run_backup.apply(args=(None, BackupKind.SCHEDULED))
    assert run.failed()
    assert len(mail.outbox) == 1 and "failed" in mail.outbox[0].subject
    assert Backup.objects.get().status == BackupStatus.FAILED


# --- API --------------------------------------------------------------------------------------


def test_the_api_lists_backups_with_or_without_a_trailing_slash(admin_user, backup):
    api = api_as(admin_user)
    for url in ("/api/maintenance/backups", "/api/maintenance/backups/"):
        response = api.get(url)
        assert response.status_code == 200
        assert response.json()["results"][0]["file_name"] == backup.file_name


def test_the_api_starts_a_backup_for_admins_only(
    admin_user, manager_user, staff_user, db, django_capture_on_commit_callbacks
):
    assert APIClient().get("/api/maintenance/backups").status_code == 401
    assert api_as(staff_user).get("/api/maintenance/backups").status_code == 403
    assert api_as(manager_user).get("/api/maintenance/backups").status_code == 200
    assert api_as(manager_user).post("/api/maintenance/backups").status_code == 403
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_as(admin_user).post("/api/maintenance/backups", {}, format="json")
    assert response.status_code == 202 and len(callbacks) == 1


def test_the_openapi_schema_and_docs_are_served(admin_browser):
    assert admin_browser.get("/api/schema").status_code == 200
    docs = admin_browser.get("/api/docs")
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()
