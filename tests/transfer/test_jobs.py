"""Large imports and exports run as background jobs, with progress, a confirmation and files."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from audit.models import AuditEntry
from beils.lib.formats import CSV
from crm.models import Client
from tests import factories as f
from tests.helpers import admin_url
from transfer.import_export_admin import ImportExportAdmin
from transfer.jobs import job_run
from transfer.models import Job, JobState
from transfer.resources.crm import ClientResource
from transfer.tasks import run_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _clients_csv(count: int, bad_row: int | None = None) -> bytes:
    lines = ["Email,Name"] + [
        f"{'not-an-email' if i == bad_row else f'c{i}@mail.example'},Client {i}" for i in range(1, count + 1)
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def _upload(browser, raw, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(ImportExportAdmin, "import_background_bytes", 100)
    upload = SimpleUploadedFile("clients.csv", raw, content_type="text/csv")
    with django_capture_on_commit_callbacks() as queued:
        response = browser.post(admin_url(Client, "import"), {"format": "0", "resource": "0", "import_file": upload})
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:transfer_job_change", args=[job.pk])
    assert len(queued) == 1  # the dry run waits for the worker
    return job


def test_a_large_upload_is_checked_in_the_background_then_imported_when_confirmed(
    admin_browser, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    job = _upload(admin_browser, _clients_csv(1200), monkeypatch, django_capture_on_commit_callbacks)
    assert admin_browser.get(reverse("admin:transfer_job_progress", args=[job.pk])).json()["state"] == "QUEUED"

    run_job.apply(args=[job.pk])  # what the worker does

    job.refresh_from_db()
    assert (job.state, job.rows_total, job.summary["totals"]["new"]) == (JobState.VALIDATED, 1200, 1200)
    assert not Client.all_objects.exists()
    page = admin_browser.get(reverse("admin:transfer_job_change", args=[job.pk]))
    assert b'id="job-confirm"' in page.content
    progress = admin_browser.get(reverse("admin:transfer_job_progress", args=[job.pk])).json()
    assert (progress["percent"], progress["done"], progress["total"]) == (100, 1200, 1200)

    with django_capture_on_commit_callbacks() as queued:
        admin_browser.post(reverse("admin:transfer_job_confirm", args=[job.pk]))
    assert len(queued) == 1
    job_run(Job.objects.get(pk=job.pk))

    job.refresh_from_db()
    assert job.state == JobState.DONE
    assert Client.all_objects.count() == 1200
    actions = list(AuditEntry.objects.filter(actor=admin_user).values_list("action", "outcome").order_by("pk"))
    assert actions == [
        ("maintenance.import.queued", "SUCCESS"),
        ("maintenance.import.done", "DRY_RUN"),
        ("maintenance.import.confirmed", "SUCCESS"),
        ("maintenance.import.done", "SUCCESS"),
    ]


def test_a_large_file_with_an_invalid_row_is_refused_with_its_failing_rows_to_download(
    admin_browser, monkeypatch, django_capture_on_commit_callbacks
):
    job = _upload(admin_browser, _clients_csv(900, bad_row=850), monkeypatch, django_capture_on_commit_callbacks)

    job_run(job)

    assert job.state == JobState.INVALID
    page = admin_browser.get(reverse("admin:transfer_job_change", args=[job.pk]))
    assert b'id="job-confirm"' not in page.content
    download = admin_browser.get(reverse("admin:transfer_job_download", args=[job.pk]))
    lines = b"".join(download.streaming_content).decode("utf-8-sig").splitlines()
    assert lines == ["Row,Errors,Email,Name", "850,Email: Enter a valid email address.,not-an-email,Client 850"]
    with pytest.raises(Exception, match="Only an import whose dry run"):
        from transfer.jobs import job_confirm

        job_confirm(job=job, actor=None)
    assert not Client.all_objects.exists()


def test_an_import_reports_its_progress_every_500_rows():
    seen = []
    resource = ClientResource()
    resource.progress = lambda done, total: seen.append((done, total))

    resource.import_data(CSV().create_dataset(_clients_csv(1100)), dry_run=True)

    assert seen == [(500, 1100), (1000, 1100)]


def test_a_large_xlsx_export_is_written_in_the_background_and_downloaded(
    manager_browser, manager_user, monkeypatch, django_capture_on_commit_callbacks
):
    f.ClientFactory.create_batch(25)
    monkeypatch.setattr(ImportExportAdmin, "export_background_rows", 10)
    form = manager_browser.get(admin_url(Client, "export")).context["form"]
    columns = {name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)}

    with django_capture_on_commit_callbacks():
        response = manager_browser.post(admin_url(Client, "export"), {"format": "2", "resource": "0", **columns})
    job = Job.objects.get()
    assert response["Location"] == reverse("admin:transfer_job_change", args=[job.pk])
    job_run(job)

    assert job.state == JobState.DONE
    download = manager_browser.get(reverse("admin:transfer_job_download", args=[job.pk]))
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("ID", "Email", "Name")
    assert len(rows) == 26
    entry = AuditEntry.objects.get(action="maintenance.export.done")
    assert (entry.actor, entry.detail["rows"]) == (manager_user, 25)


def test_jobs_are_visible_to_their_owner_and_to_admins_only(
    manager_user, manager_browser, admin_browser, staff_browser, client
):
    job = Job.objects.create(kind="EXPORT", resource="transfer.resources.crm.ClientResource", model_label="crm.Client",
                             file_format="csv", actor=manager_user)  # fmt: skip
    page = reverse("admin:transfer_job_change", args=[job.pk])
    assert manager_browser.get(page).status_code == 200
    assert admin_browser.get(page).status_code == 200
    assert staff_browser.get(page).status_code == 403
    client.force_login(f.UserFactory(role="MANAGER"))
    assert client.get(page).status_code == 403
    assert client.get(reverse("admin:transfer_job_progress", args=[job.pk])).status_code == 403


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_a_background_csv_or_json_export_writes_every_row_once_and_escapes_formulas(file_format, manager_user):
    from django.core.files.storage import default_storage

    from transfer.jobs import job_export_create

    f.ClientFactory(name="=cmd", email="formula@mail.example")
    f.ClientFactory.create_batch(4)
    job = job_export_create(resource_class=ClientResource, file_format=file_format, actor=manager_user)

    job_run(job)

    assert (job.state, job.summary["rows"]) == (JobState.DONE, 5)
    with default_storage.open(job.output_name, "rb") as fh:
        text = fh.read().decode("utf-8-sig")
    if file_format == "csv":
        lines = text.splitlines()
        assert lines[0].startswith("ID,Email,Name,") and len(lines) == 6
        assert ",formula@mail.example,'=cmd," in text
    else:
        rows = json.loads(text)
        assert len(rows) == 5
        assert {r["Email"]: r["Name"] for r in rows}["formula@mail.example"] == "'=cmd"


def test_a_background_import_of_an_xlsx_bomb_fails_with_the_row_limit_and_writes_nothing(
    admin_browser, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.helpers import bomb_xlsx

    monkeypatch.setattr(ImportExportAdmin, "import_background_bytes", 100)
    upload = SimpleUploadedFile("bomb.xlsx", bomb_xlsx(3_000_000))
    with django_capture_on_commit_callbacks():
        admin_browser.post(admin_url(Client, "import"), {"format": "2", "resource": "0", "import_file": upload})
    job = Job.objects.get()

    job_run(job)

    assert job.state == JobState.FAILED
    assert "more than 1000000 rows" in job.error
    assert not Client.all_objects.exists()
    assert AuditEntry.objects.for_action("maintenance.import.failed").get().outcome == "FAILURE"
