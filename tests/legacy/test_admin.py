"""The import as an admin screen: a form that queues a background job, a progress bar that
polls JSON, and the report; the password never reaches the database."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from legacy.models import LegacyImportRun, RunState
from legacy.services import password_unseal
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr("legacy.tasks.run_legacy_import.delay", lambda *args: calls.append(args))
    return calls


def test_an_admin_queues_an_import_without_storing_the_password(
    admin_browser, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_browser.post(
            reverse("admin:legacy_legacyimportrun_start"),
            {"url": "mysql://beils@legacy.example:3306/salon", "password": "Very-Secret-1"},
        )

    run = LegacyImportRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:legacy_legacyimportrun_change", args=[run.pk])
    assert run.state == RunState.QUEUED and run.source == "mysql://beils@legacy.example:3306/salon"
    [(run_id, sealed)] = queued
    assert run_id == run.pk and "Very-Secret-1" not in sealed and password_unseal(sealed) == "Very-Secret-1"
    entry = AuditEntry.objects.get(action="legacy.import.queued")
    assert "Very-Secret-1" not in str(entry.detail) and "Very-Secret-1" not in str(run.__dict__)


def test_a_password_typed_in_the_url_is_stripped_too(admin_browser, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_browser.post(reverse("admin:legacy_legacyimportrun_start"), {"url": "mysql://beils:InUrl-9@db/salon"})

    assert LegacyImportRun.objects.get().source == "mysql://beils@db:3306/salon"
    assert password_unseal(queued[0][1]) == "InUrl-9"


def test_a_malformed_url_is_refused_on_the_form(admin_browser, queued):
    response = admin_browser.post(reverse("admin:legacy_legacyimportrun_start"), {"url": "ftp://nowhere"})

    assert response.status_code == 200 and "mysql://user@host:3306/dbname" in response.content.decode()
    assert not LegacyImportRun.objects.exists() and not queued


def test_the_progress_bar_polls_json(admin_browser):
    run = f.LegacyImportRunFactory(state=RunState.RUNNING, rows_done=250, rows_total=1000, current_entity="bookings")

    progress = admin_browser.get(reverse("admin:legacy_legacyimportrun_progress", args=[run.pk])).json()
    page = admin_browser.get(reverse("admin:legacy_legacyimportrun_change", args=[run.pk]))

    assert progress == {"state": "RUNNING", "label": "Running", "done": 250, "total": 1000, "percent": 25,
                        "entity": "bookings"}  # fmt: skip
    assert b'data-active="1"' in page.content and b"legacy-bar" in page.content


def test_the_report_shows_reconciliation_and_problems_escaped(admin_browser):
    report = {
        "checks": [{"name": "open debt", "legacy": "10.00", "beils": "9.00", "ok": False}],
        "counts": {"users": {"read": 3, "created": 3, "updated": 0, "unchanged": 0, "skipped": 0}},
        "problems": [{"level": "warning", "entity": "carts", "reason": "<script>x</script>", "count": 1,
                      "action": "skipped", "examples": ["a"]}],
    }  # fmt: skip
    run = f.LegacyImportRunFactory(state=RunState.UNRECONCILED, report=report)

    page = admin_browser.get(reverse("admin:legacy_legacyimportrun_change", args=[run.pk])).content.decode()

    assert "differs" in page and "open debt" in page
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_staff_cannot_start_an_import(staff_browser):
    assert staff_browser.get(reverse("admin:legacy_legacyimportrun_start")).status_code == 403


def test_the_changelist_offers_the_import_to_admins(admin_browser):
    f.LegacyImportRunFactory()
    page = admin_browser.get(reverse("admin:legacy_legacyimportrun_changelist")).content.decode()
    assert 'id="legacy-import-start"' in page
