"""The register of issued invoices from its four doors: the admin page (from the invoice list),
the API, ``manage.py invoice_register`` and the monthly e-mail to the admins. MANAGER and ADMIN
only, every download audited, bad periods refused without a 5xx."""

import csv
import io
import json
import os
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client as Browser
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from openpyxl import load_workbook

from audit.models import AuditEntry
from beils.lib.models import Status
from crm.models import Role, User
from maintenance.schedules import BY_NAME, sync_schedules
from sales.models import Invoice
from sales.register import previous_month
from sales.tasks import email_invoice_register
from tests import factories as f
from tests.factories import PASSWORD
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db

REGISTER_URL = "/admin/sales/invoice/register/"
API_URL = "/api/sales/invoices/register"


@pytest.fixture
def invoices():
    """Two invoices today, chained, at 21 % and 10 %."""
    today = timezone.localdate()
    first = f.InvoiceFactory(year=today.year, issue_date=today, sequence_number=1)
    second = f.InvoiceFactory(
        year=today.year, issue_date=today, sequence_number=2, previous_hash=first.hash, net_total=D("20.00"),
        tax_total=D("2.00"), total=D("22.00"), tax_breakdown={"10.00": {"net": "20.00", "tax": "2.00"}},
    )  # fmt: skip
    return [first, second]


def period(**extra):
    today = timezone.localdate().isoformat()
    return {"start": today, "end": today, **extra}


def last_audit():
    return AuditEntry.objects.filter(action="sales.register.exported").latest("pk")


# --- The admin page ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_an_admin_downloads_the_register_and_the_download_is_audited(admin_browser, admin_user, invoices, fmt):
    response = admin_browser.get(REGISTER_URL, period(format=fmt))
    assert response.status_code == 200
    today = timezone.localdate().isoformat()
    name = "verifactu" if fmt == "json" else "invoice-register"
    assert response["Content-Disposition"] == f'attachment; filename="{name}-{today}_{today}.{fmt}"'
    content = streamed(response)
    assert int(response["Content-Length"]) == len(content) and content[:2] in (b"\xef\xbb", b"PK", b"{\n")
    entry = last_audit()
    assert entry.actor == admin_user
    assert entry.detail == {"start": today, "end": today, "format": fmt, "rows": 2, "via": "admin"}


def test_a_manager_gets_the_page_and_the_invoice_list_links_to_it(manager_browser, invoices):
    page = manager_browser.get(REGISTER_URL)
    assert page.status_code == 200 and b'name="start"' in page.content
    start, end = previous_month(timezone.localdate())
    assert page.context["form"].initial["start"] == start and page.context["form"].initial["end"] == end
    changelist = manager_browser.get(admin_url(Invoice, "changelist"))
    assert b'id="invoice-register"' in changelist.content
    assert manager_browser.get(REGISTER_URL, period(format="csv")).status_code == 200


def test_staff_see_invoices_but_not_the_register(staff_browser, invoices):
    assert staff_browser.get(REGISTER_URL, period(format="csv")).status_code == 403
    assert b'id="invoice-register"' not in staff_browser.get(admin_url(Invoice, "changelist")).content
    assert not AuditEntry.objects.filter(action="sales.register.exported").exists()


def test_no_one_signed_out_or_switched_off_gets_the_register(anonymous_browser, outsider, manager_user, invoices):
    assert anonymous_browser.get(REGISTER_URL, period(format="csv")).status_code == 302
    assert anonymous_browser.login(email=outsider.email, password=PASSWORD) is False
    browser = Browser()
    browser.force_login(manager_user)
    User.objects.filter(pk=manager_user.pk).deactivate()  # switched off while signed in
    assert browser.get(REGISTER_URL, period(format="csv")).status_code in (302, 403)
    assert not AuditEntry.objects.filter(action="sales.register.exported").exists()


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-02-10", "end": "2026-02-01", "format": "csv"},
        {"start": "yesterday", "end": "2026-02-01", "format": "csv"},
        {"start": "2024-01-01", "end": "2026-01-01", "format": "csv"},
        {"start": "2026-01-01", "end": "2026-01-31", "format": "pdf"},
        {"format": "csv"},
    ],
)
def test_a_bad_period_or_format_is_a_form_error(admin_browser, query):
    response = admin_browser.get(REGISTER_URL, query)
    assert response.status_code == 200 and response.context["form"].errors
    assert not AuditEntry.objects.filter(action="sales.register.exported").exists()


# --- The API -------------------------------------------------------------------------------------


def streamed(response) -> bytes:
    """The file of a download, which is streamed from its temporary file, never held whole."""
    assert response.status_code == 200 and response.streaming
    return b"".join(response.streaming_content)


def api_period(**extra):
    today = timezone.localdate().isoformat()
    return {"from": today, "to": today, **extra}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_admins_and_managers_get_the_register_through_the_api(request, invoices, role):
    user = request.getfixturevalue("admin_user" if role == Role.ADMIN else "manager_user")
    api = api_as(user)
    body = api.get(API_URL, api_period(format="csv"))
    assert body["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(streamed(body).decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:3]] == [invoices[0].number, invoices[1].number] and rows[-1][-2] == "34.10"
    workbook = load_workbook(io.BytesIO(streamed(api.get(API_URL, api_period(format="xlsx")))))
    assert workbook.active.max_row == 4
    records = json.loads(streamed(api.get(API_URL, api_period(format="json"))))
    assert records["header"]["count"] == 2 and records["header"]["chain"]["ok"] is True
    assert last_audit().detail["via"] == "api" and last_audit().actor == user


def test_staff_switched_off_and_anonymous_callers_are_refused_by_the_api(staff_user, outsider, invoices):
    from rest_framework.test import APIClient

    assert api_as(staff_user).get(API_URL, api_period()).status_code == 403
    assert api_as(outsider).get(API_URL, api_period()).status_code in (401, 403)
    assert APIClient().get(API_URL, api_period()).status_code in (401, 403)
    assert not AuditEntry.objects.filter(action="sales.register.exported").exists()


@pytest.mark.parametrize(
    "query",
    [{"from": "2026-02-10", "to": "2026-02-01"}, {"from": "nope", "to": "2026-02-01"}, {"to": "2026-02-01"},
     {"from": "2026-02-01", "to": "2026-02-02", "format": "pdf"}, {"from": "2020-01-01", "to": "2026-01-01"}],
)  # fmt: skip
def test_the_api_answers_a_bad_query_with_a_400(manager_user, query):
    """(Neither date is last month; one of them only is a mistake.)"""
    response = api_as(manager_user).get(API_URL, query)
    assert response.status_code == 400 and response.json()


def test_the_api_gives_last_month_when_no_period_is_given(manager_user):
    start, end = previous_month(timezone.localdate())
    records = json.loads(streamed(api_as(manager_user).get(API_URL, {"format": "json"})))
    assert records["header"]["period"] == {"from": start.isoformat(), "to": end.isoformat()}


# --- The command ---------------------------------------------------------------------------------


def test_the_command_writes_a_month_to_a_private_file(invoices, tmp_path):
    today = timezone.localdate()
    out = io.StringIO()
    target = tmp_path / "register.xlsx"
    call_command("invoice_register", "--month", today.strftime("%Y-%m"), "--format", "xlsx", "-o", target, stdout=out)
    assert os.stat(target).st_mode & 0o777 == 0o600
    sheet = load_workbook(target).active
    assert sheet.cell(row=4, column=sheet.max_column - 1).value == pytest.approx(34.10)
    assert "2 " in out.getvalue() and str(target) in out.getvalue()
    assert last_audit().detail["via"] == "command" and last_audit().actor is None


def test_the_command_prints_the_verifactu_json_and_fails_on_a_broken_chain(invoices):
    today = timezone.localdate().isoformat()
    out = io.StringIO()
    call_command("invoice_register", "--from", today, "--to", today, "--format", "json", stdout=out)
    assert json.loads(out.getvalue())["header"]["chain"]["ok"] is True
    Invoice.objects.filter(pk=invoices[0].pk).anonymise_customer()  # not covered by the hash: still fine
    f.InvoiceFactory(year=2025, sequence_number=99, issue_date=date(2025, 1, 1))  # a gap and a broken link
    with pytest.raises(CommandError, match="broken"):
        call_command("invoice_register", "--from", today, "--to", today, "--format", "json", stdout=io.StringIO())


@pytest.mark.parametrize(
    "args",
    [["--from", "2026-02-10", "--to", "2026-02-01"], ["--from", "2026-02-31", "--to", "2026-03-01"],
     ["--from", "2026-02-01"], ["--month", "2026-13"], ["--month", "2026-01", "--from", "2026-01-01"],
     ["--format", "xlsx"]],
)  # fmt: skip
def test_the_command_refuses_a_bad_period_with_a_clear_error(args):
    with pytest.raises(CommandError):
        call_command("invoice_register", *args, stdout=io.StringIO())


# --- The monthly e-mail --------------------------------------------------------------------------


def test_the_monthly_task_mails_last_month_s_register_to_each_active_admin(admin_user, manager_user, settings):
    settings.LANGUAGE_CODE = "en"
    second_admin = User.objects.create_user(
        email="ana@salon.example", password=PASSWORD, name="Ana", role=Role.ADMIN, language="es"
    )
    User.objects.create_user(email="old@salon.example", password=PASSWORD, name="Old", role=Role.ADMIN,
                             status=Status.OFF)  # fmt: skip
    start, end = previous_month(timezone.localdate())
    f.InvoiceFactory(year=start.year, issue_date=start, sequence_number=1)
    f.InvoiceFactory(year=end.year, issue_date=end, sequence_number=2, total=D("22.00"), net_total=D("20.00"),
                     tax_total=D("2.00"), tax_breakdown={"10.00": {"net": "20.00", "tax": "2.00"}})  # fmt: skip
    f.InvoiceFactory(year=end.year, issue_date=end + timedelta(days=1), sequence_number=3)  # this month: not sent

    assert email_invoice_register.apply().get() == 2
    assert sorted(message.to[0] for message in mail.outbox) == sorted([admin_user.email, second_admin.email])
    for message in mail.outbox:
        names = [name for name, _content, _type in message.attachments]
        period = f"{start.isoformat()}_{end.isoformat()}"
        assert names == [
            f"invoice-register-{period}.csv",
            f"invoice-register-{period}.xlsx",
            f"verifactu-{period}.json",
        ]
        spanish = message.to == [second_admin.email]  # each admin in their language
        text = message.attachments[0][1].lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(text), delimiter=";" if spanish else ","))
        assert len(rows) == 4 and rows[-1][-2] == ("34,10" if spanish else "34.10")
        sheet = load_workbook(io.BytesIO(message.attachments[1][1])).active
        assert sheet.cell(row=4, column=sheet.max_column - 1).value == pytest.approx(34.10)
        assert json.loads(message.attachments[2][1])["header"]["count"] == 2
    assert AuditEntry.objects.get(action="sales.register.emailed").detail["recipients"] == 2


def test_the_monthly_schedule_is_off_unless_the_setting_or_the_admin_switches_it_on(settings):
    job = BY_NAME["Monthly invoice register"]
    assert (job.task, job.day_of_month, job.enabled) == ("sales.email_invoice_register", "1", False)
    task = PeriodicTask.objects.get(name=job.name)  # written by migrate
    assert task.enabled is False
    settings.INVOICE_REGISTER_EMAIL = True
    sync_schedules()
    task.refresh_from_db()
    assert task.enabled is True


def test_the_command_reconciles_the_register_with_the_sales_report_to_the_cent():
    from sales.services import LineRequest, PaymentRequest, cart_checkout, invoice_rectify

    sale = cart_checkout(
        lines=[LineRequest(service=f.ServiceFactory(price=D("30.00")))],
        payments=[PaymentRequest(method="CASH", amount=D("32.00"))], tip=D("2.00"),
    )  # fmt: skip
    cart_checkout(
        lines=[LineRequest(product=f.ProductFactory(price=D("11.00"), tax_rate=D("10.00")))],
        payments=[PaymentRequest(method="CARD", amount=None)],
    )
    invoice_rectify(invoice=sale.invoice, reason="Refund")
    today = timezone.localdate().isoformat()
    out = io.StringIO()
    call_command("invoice_register", "--from", today, "--to", today, "--reconcile", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(": 41.00 €") and lines[3].endswith(": -30.00 €") and lines[4].endswith(": 11.00 €")
    assert "Reconciled to the cent." in lines[-1]


def test_the_command_says_when_an_invoice_no_longer_matches_its_sale(invoices):
    today = timezone.localdate().isoformat()
    with pytest.raises(CommandError, match="does not reconcile"):
        call_command("invoice_register", "--from", today, "--to", today, "--reconcile", stdout=io.StringIO())
