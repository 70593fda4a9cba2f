"""Importing as a salon expects it (issue 18): the file says what format it is, each list offers a
template to start from, errors are on the page in words, rows carry the same numbers on the page
and in the failing rows file, which comes back with the separator it went in with; and the export
form names each column once, in the reader's language."""

import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook

from crm.models import Client
from tests.helpers import admin_url
from transfer.import_export_admin import ImportExportAdmin
from transfer.jobs import job_run
from transfer.models import Job, JobState
from transfer.resources.crm import ConsentResource
from transfer.resources.fields import column_label
from transfer.sniffing import csv_separator, detect_format

pytestmark = pytest.mark.django_db

CSV_FORMAT, NO_FORMAT = "0", ""


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _post(browser, name, raw, fmt=CSV_FORMAT):
    upload = SimpleUploadedFile(name, raw, content_type="application/octet-stream")
    return browser.post(admin_url(Client, "import"), {"format": fmt, "resource": "0", "import_file": upload})


def _xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- The format is the file's -------------------------------------------------------------------


def test_the_format_is_told_from_the_first_bytes():
    assert detect_format(b"PK\x03\x04rest of a zip") == "xlsx"
    assert detect_format(b'\xef\xbb\xbf  [{"Email": "a@b.example"}]') == "json"
    assert detect_format(b"Email;Name\r\n") == "csv"
    assert detect_format(b"") is None
    assert detect_format(b"\x00\x01\x02") is None
    assert csv_separator(b"\xef\xbb\xbfEmail;Name\r\nx;y\r\n") == ";"
    assert csv_separator(b"Email,Name\r\n") == ","


def test_a_json_file_named_csv_with_csv_picked_imports_as_json(admin_browser):
    raw = json.dumps([{"Email": "ana@mail.example", "Name": "Ana"}]).encode()

    response = _post(admin_browser, "clients.csv", raw, fmt=CSV_FORMAT)

    assert response.context["confirm_form"] is not None, response.context["form"].errors
    assert response.context["confirm_form"].initial["format"] == "1"  # JSON
    confirm = admin_browser.post(admin_url(Client, "process_import"), {**response.context["confirm_form"].initial})
    assert confirm.status_code == 302
    assert Client.all_objects.get(email="ana@mail.example").name == "Ana"


def test_an_xlsx_file_imports_without_a_format_picked(admin_browser):
    response = _post(admin_browser, "clients", _xlsx([["Email", "Name"], ["ana@mail.example", "Ana"]]), NO_FORMAT)

    assert response.context["confirm_form"] is not None, response.context["form"].errors
    assert response.context["confirm_form"].initial["format"] == "2"  # XLSX


def test_a_file_whose_bytes_do_not_say_and_no_format_picked_asks_for_one(admin_browser):
    response = _post(admin_browser, "clients", b"", NO_FORMAT)

    assert response.context["form"].errors
    assert not Client.all_objects.exists()


# --- A template per resource --------------------------------------------------------------------


def test_each_list_offers_a_template_with_its_columns_and_an_example_row(admin_browser):
    page = admin_browser.get(admin_url(Client, "import"))
    csv_url = reverse("admin:crm_client_import_template", args=["csv"])
    assert csv_url.encode() in page.content

    with translation.override("en"):
        lines = admin_browser.get(csv_url).content.decode("utf-8-sig").splitlines()

    headers = lines[0].split(",")
    assert headers[:3] == ["Email", "Name", "Surname"]  # the file's headers, as exports write them
    assert "ID" not in headers  # exported for reference, never read
    example = dict(zip(headers, lines[1].split(","), strict=True))
    assert example["Email"] == "ana.garcia@example.com"


def test_the_templates_in_json_and_xlsx_hold_the_same_columns(admin_browser):
    as_json = json.loads(admin_browser.get(reverse("admin:crm_client_import_template", args=["json"])).content)
    response = admin_browser.get(reverse("admin:crm_client_import_template", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    headers = [cell.value for cell in next(sheet.iter_rows())]

    assert list(as_json[0]) == headers
    assert sheet.max_row == 2
    assert response["Content-Disposition"] == 'attachment; filename="client-import-template.xlsx"'


def test_a_spanish_salon_gets_a_template_with_semicolons_that_imports_back(admin_user, admin_browser):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])

    raw = admin_browser.get(reverse("admin:crm_client_import_template", args=["csv"])).content

    assert raw.decode("utf-8-sig").splitlines()[0].startswith("Email;Name;")
    response = _post(admin_browser, "template.csv", raw)
    assert response.context["confirm_form"] is not None, response.context["result"].invalid_rows


def test_staff_cannot_download_a_template(staff_browser):
    assert staff_browser.get(reverse("admin:crm_client_import_template", args=["csv"])).status_code == 403


# --- Errors on the page, with the numbers of the failing rows file ------------------------------


BAD = b"Email;Name\r\nok@mail.example;Ok\r\nnot-an-email;Bad\r\nalso-bad;Worse\r\n"


def test_errors_are_written_on_the_page_not_behind_a_badge(admin_browser):
    page = _post(admin_browser, "clients.csv", BAD).content.decode()

    assert 'id="invalid-rows"' in page
    assert "validation-error-count" not in page
    assert "Email: Enter a valid email address." in page


def test_the_page_and_the_failing_rows_file_number_rows_alike_and_keep_the_separator(admin_browser):
    response = _post(admin_browser, "clients.csv", BAD)
    on_the_page = [number for number, _messages, _values in response.context["failed_rows"]]

    download = admin_browser.get(response.context["failing_rows_url"])
    lines = b"".join(download.streaming_content).decode("utf-8-sig").splitlines()

    assert on_the_page == [2, 3]
    assert lines[0] == "Row;Errors;Email;Name"  # ";" in, ";" out
    assert [int(line.split(";")[0]) for line in lines[1:]] == on_the_page
    assert re.search(r"<td>2</td>\s*<td class=\"errors\">", response.content.decode())


def test_a_background_import_writes_its_failing_rows_with_the_uploaded_separator(
    admin_browser, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(ImportExportAdmin, "import_background_bytes", 10)
    with django_capture_on_commit_callbacks():
        _post(admin_browser, "clients.csv", BAD)
    job = Job.objects.get()

    job_run(job)

    assert job.state == JobState.INVALID
    download = admin_browser.get(reverse("admin:transfer_job_download", args=[job.pk]))
    lines = b"".join(download.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "Row;Errors;Email;Name"
    assert [line.split(";")[0] for line in lines[1:]] == ["2", "3"]


# --- The export form names each column once -----------------------------------------------------


def test_the_export_form_names_each_column_once(manager_browser):
    form = manager_browser.get(admin_url(Client, "export")).context["form"]
    labels = [str(field.label) for field in form.fields.values() if getattr(field, "is_selectable_field", False)]

    assert "ID" in labels and "Id (ID)" not in labels
    repeated = [
        label for label in labels if (m := re.fullmatch(r"(.+) \((.+)\)", label)) and m[1].lower() == m[2].lower()
    ]
    assert not repeated


def test_a_column_read_by_a_business_key_names_the_record_and_the_key():
    field = ConsentResource().fields["client"]

    with translation.override("en"):
        assert column_label(ConsentResource._meta.model, field) == "Client (email)"
    with translation.override("es"):
        client = str(ConsentResource._meta.model._meta.get_field("client").verbose_name)
        email = str(Client._meta.get_field("email").verbose_name)
        assert column_label(ConsentResource._meta.model, field) == f"{client[:1].upper()}{client[1:]} ({email})"
    assert field.column_name == "Client email"  # the file's header does not change


# --- In Spanish ---------------------------------------------------------------------------------


@pytest.fixture
def spanish_admin(admin_user, admin_browser):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    return admin_browser


def test_the_import_export_and_job_pages_read_as_spanish(spanish_admin, admin_user):
    from tests.test_admin_in_spanish import assert_reads_as_spanish

    assert_reads_as_spanish(spanish_admin.get(admin_url(Client, "import")), "import")
    assert_reads_as_spanish(spanish_admin.get(admin_url(Client, "export")), "export")
    invalid = _post(spanish_admin, "clients.csv", BAD)
    assert_reads_as_spanish(invalid, "invalid rows")
    assert "Fila" in invalid.content.decode()
    job = Job.objects.create(
        kind="IMPORT", resource="transfer.resources.crm.ClientResource", model_label="crm.Client",
        file_format="csv", actor=admin_user, state=JobState.VALIDATED, summary={"totals": {"new": 1}},
    )  # fmt: skip
    assert_reads_as_spanish(spanish_admin.get(reverse("admin:transfer_job_change", args=[job.pk])), "job")
