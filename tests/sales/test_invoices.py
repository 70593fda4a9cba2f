"""Invoices: gap-free numbers, a hash chain that `verifyinvoices` checks, rectifying invoices, and
no way to change or delete an issued invoice through the ORM, the admin or the API."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from demo.services import demo_data_seed
from sales.chain import invoice_chain_verify
from sales.models import Invoice, InvoiceKind, InvoiceSequence, SalesError
from sales.services import LineRequest, PaymentRequest, cart_checkout, invoice_rectify
from tests.factories import ClientFactory, InvoiceFactory, ServiceFactory
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db

D = Decimal


def sell(price="30.00", client=None):
    service = ServiceFactory(price=D(price))
    return cart_checkout(
        lines=[LineRequest(service=service)], payments=[PaymentRequest("CASH", D(price))], client=client
    ).invoice


def verify(*args):
    """Run verifyinvoices --json; returns (report, failed)."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("verifyinvoices", "--json", *args, stdout=out)
        failed = False
    except CommandError:
        failed = True
    return json.loads(out.getvalue()), failed


def raw_sql(sql, params):
    # What a tamperer with database access does: below the ORM's guards.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- Numbering and the chain ----------------------------------------------------------------


@override_settings(INVOICE_SERIES="T", SALON_TAX_ID="B12345678")
def test_invoices_are_numbered_from_one_and_each_chains_to_the_one_before():
    first, second, third = sell(), sell(), sell()
    year = first.issue_date.year
    assert [i.number for i in (first, second, third)] == [f"T{year}-{n:06d}" for n in (1, 2, 3)]
    assert first.previous_hash is None
    assert second.previous_hash == first.hash and third.previous_hash == second.hash
    assert third.issuer_tax_id == "B12345678" and third.hash == third.compute_hash()
    assert InvoiceSequence.objects.get(series="T", year=year).last_number == 3


def test_verifyinvoices_accepts_an_intact_chain():
    for _ in range(3):
        sell()
    report, failed = verify()
    assert not failed and report == {"ok": True, "invoices": 3, "first_broken": None, "problems": []}


def test_verifyinvoices_prints_a_plain_summary(capsys):
    sell()
    call_command("verifyinvoices")
    assert "1 invoice: numbering gap-free and the hash chain intact." in capsys.readouterr().out


def test_verifyinvoices_detects_a_tampered_total_and_names_the_invoice():
    _first, second, _third = sell(), sell(), sell()
    raw_sql(
        "UPDATE sales_invoice SET total = %s, net_total = %s, tax_total = %s WHERE id = %s",
        ["3.00", "2.48", "0.52", second.pk],
    )
    report, failed = verify()
    assert failed
    assert report["first_broken"] == {
        "number": second.number,
        "problem": "its hash does not match its contents: it was altered",
    }


def test_verifyinvoices_exits_non_zero_with_the_first_broken_link_in_the_message():
    invoice = sell()
    raw_sql("UPDATE sales_invoice SET issue_date = %s WHERE id = %s", [date(2001, 1, 1), invoice.pk])
    with pytest.raises(CommandError, match=f"first broken link: {invoice.number}"):
        call_command("verifyinvoices")


def test_verifyinvoices_detects_a_deleted_invoice_as_a_gap_and_a_broken_link():
    _first, second, third = sell(), sell(), sell()
    raw_sql("DELETE FROM sales_invoice WHERE id = %s", [second.pk])
    report, failed = verify()
    assert failed
    problems = {(p["number"], p["problem"].split(":")[0]) for p in report["problems"]}
    assert (second.number, "this number is missing") in problems
    assert report["first_broken"]["number"] == third.number
    assert "chain is broken" in report["first_broken"]["problem"]


def test_verifyinvoices_detects_the_newest_invoice_deleted_through_the_sequence():
    sell()
    last = sell()
    raw_sql("DELETE FROM sales_invoice WHERE id = %s", [last.pk])
    report, failed = verify()
    assert failed and report["problems"] == [{"number": last.number, "problem": "this number is missing: a gap"}]


def test_verifyinvoices_detects_a_forged_invoice_with_a_recomputed_hash():
    """Rewriting an invoice *and* its own hash still breaks the next invoice's link."""
    first, second = sell(), sell()
    forged = Invoice(
        issuer_tax_id=first.issuer_tax_id, number=first.number, issue_date=first.issue_date, total=D("1.00"),
        previous_hash=first.previous_hash,
    )  # fmt: skip
    raw_sql(
        "UPDATE sales_invoice SET total = %s, net_total = %s, tax_total = %s, hash = %s WHERE id = %s",
        ["1.00", "0.83", "0.17", forged.compute_hash(), first.pk],
    )
    report, failed = verify()
    assert failed and report["first_broken"]["number"] == second.number


def test_the_demo_seed_produces_a_chain_that_verifyinvoices_accepts():
    demo_data_seed(clients=20, random_seed=7)
    sell()  # a real sale after the demo history chains on to it
    report = invoice_chain_verify()
    assert report.invoices > 20
    assert report.ok, report.problems[:3]


# --- Rectifying invoices --------------------------------------------------------------------


def test_a_rectifying_invoice_cancels_the_original_in_its_own_series():
    client = ClientFactory(document_type="DNI", document_number="12345678Z")
    original = sell("60.50", client=client)
    rectifying = invoice_rectify(invoice=original, reason="Service not provided")
    assert rectifying.kind == InvoiceKind.RECTIFYING and rectifying.rectifies == original
    assert rectifying.number.startswith("RF") and rectifying.sequence_number == 1
    assert (rectifying.net_total, rectifying.tax_total, rectifying.total) == (D("-50.00"), D("-10.50"), D("-60.50"))
    assert rectifying.tax_breakdown == {"21.00": {"net": "-50.00", "tax": "-10.50", "gross": "-60.50"}}
    assert rectifying.customer_tax_id == "12345678Z" and rectifying.reason == "Service not provided"
    assert rectifying.previous_hash == original.hash
    assert invoice_chain_verify().ok


def test_an_invoice_is_rectified_once_and_a_rectifying_invoice_never():
    original = sell()
    rectifying = invoice_rectify(invoice=original, reason="Wrong price")
    with pytest.raises(SalesError, match="already been rectified"):
        invoice_rectify(invoice=original, reason="Again")
    with pytest.raises(SalesError, match="itself a rectifying"):
        invoice_rectify(invoice=rectifying, reason="Undo")
    with pytest.raises(SalesError, match="reason"):
        invoice_rectify(invoice=sell(), reason=" ")


# --- Immutability through every path -------------------------------------------------------


def test_the_orm_refuses_to_save_an_issued_invoice_again():
    invoice = sell()
    invoice.total = D("1.00")
    with pytest.raises(SalesError, match="rectifying invoice"):
        invoice.save()
    assert Invoice.objects.get(pk=invoice.pk).total == D("30.00")


def test_the_orm_refuses_to_delete_an_issued_invoice():
    invoice = sell()
    with pytest.raises(SalesError):
        invoice.delete()
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_the_orm_refuses_bulk_updates_and_deletes_of_invoices():
    invoice = sell()
    with pytest.raises(SalesError):
        Invoice.objects.filter(pk=invoice.pk).update(total=D("1.00"))
    with pytest.raises(SalesError):
        Invoice.objects.all().delete()
    invoice.refresh_from_db()
    assert invoice.total == D("30.00") and invoice.hash == invoice.compute_hash()


def test_gdpr_anonymisation_of_invoices_keeps_the_chain_intact():
    invoice = sell(client=ClientFactory(document_type="DNI", document_number="12345678Z"))
    assert Invoice.objects.filter(pk=invoice.pk).anonymise_customer() == 1
    invoice.refresh_from_db()
    assert invoice.customer_name is None and invoice.customer_tax_id is None
    assert invoice_chain_verify().ok


def test_the_admin_shows_an_invoice_but_refuses_to_change_or_delete_it(admin_browser):
    invoice = sell()
    page = admin_browser.get(admin_url(Invoice, "change", invoice.pk))
    assert page.status_code == 200 and invoice.number in page.content.decode()
    change = admin_browser.post(admin_url(Invoice, "change", invoice.pk), {"total": "1.00"})
    delete = admin_browser.post(admin_url(Invoice, "delete", invoice.pk), {"post": "yes"})
    assert (change.status_code, delete.status_code) == (403, 403)
    invoice.refresh_from_db()
    assert invoice.total == D("30.00")


def test_the_api_lists_invoices_but_refuses_every_write(admin_user):
    invoice = sell()
    api = api_as(admin_user)
    assert api.get(f"/api/sales/invoices/{invoice.pk}").json()["hash"] == invoice.hash
    assert api.patch(f"/api/sales/invoices/{invoice.pk}", {"total": "1"}, format="json").status_code == 405
    assert api.delete(f"/api/sales/invoices/{invoice.pk}").status_code == 405
    assert api.post("/api/sales/invoices", {"number": "F1"}, format="json").status_code == 405
    invoice.refresh_from_db()
    assert invoice.total == D("30.00")


def test_a_factory_invoice_is_immutable_too():
    invoice = InvoiceFactory()
    with pytest.raises(SalesError):
        invoice.save()


@override_settings(INVOICE_SERIES="T")
def test_resyncing_the_sequences_continues_the_numbering_after_invoices_were_removed():
    from sales.services import invoice_sequences_resync

    first, _second, last = sell(), sell(), sell()
    raw_sql("DELETE FROM sales_invoice WHERE id = %s", [last.pk])
    InvoiceSequence.objects.create(series="T", year=first.issue_date.year - 1, last_number=7)  # none left there

    invoice_sequences_resync()

    numbers = dict(InvoiceSequence.objects.filter(series="T").values_list("year", "last_number"))
    assert numbers == {first.issue_date.year: 2, first.issue_date.year - 1: 0}
    assert sell().sequence_number == 3
