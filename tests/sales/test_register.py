"""The register of issued invoices: one row per invoice with its VAT by rate, rectifying ones
negative, a totals row; its total reconciles with the sales report's revenue to the cent; CSV and
XLSX in the reader's language; the Veri*Factu records with the hash chain checked."""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from marketing.services import gift_card_issue
from sales.models import Invoice, InvoiceKind
from sales.register import (
    invoice_register,
    invoice_register_csv,
    invoice_register_xlsx,
    register_reconciliation,
    verifactu_records,
)
from sales.reports import sales_report
from sales.services import LineRequest, PaymentRequest, cart_checkout, invoice_rectify
from tests import factories as f

pytestmark = pytest.mark.django_db


def cash(amount):
    return [PaymentRequest(method="CASH", amount=D(amount))]


@pytest.fixture
def day_of_sales():
    """Four sales today, through the real checkout: two VAT rates plus a gift card sold (0 %),
    a coupon, a tip, a gift card paying, a client with a DNI and one with a passport."""
    f.CouponFactory(code="TEN", kind="PERCENT", value=D("10"))
    service = f.ServiceFactory(price=D("30.00"), tax_rate=D("21.00"))
    product = f.ProductFactory(price=D("11.00"), tax_rate=D("10.00"), stock=10)
    with_dni = f.ClientFactory(name="=SUM(A1)", surname="Pérez", document_type="DNI", document_number="12345678Z")
    with_passport = f.ClientFactory(name="Anna", surname="Smith", document_type="PASSPORT", document_number="X1234")
    card = gift_card_issue(amount=D("20.00"))
    a = cart_checkout(
        lines=[LineRequest(service=service), LineRequest(product=product, quantity=2)],
        payments=cash("57.00"), client=with_dni, tip=D("5.00"),
    )  # fmt: skip
    b = cart_checkout(lines=[LineRequest(service=service)], payments=cash("27.00"), coupon_code="TEN")
    c = cart_checkout(lines=[LineRequest(gift_card_amount=D("50.00"))], payments=cash("50.00"), client=with_passport)
    d = cart_checkout(
        lines=[LineRequest(service=service)],
        payments=[PaymentRequest(method="GIFT_CARD", amount=D("20.00"), gift_card_code=card.code), *cash("10.00")],
    )
    return [a.invoice, b.invoice, c.invoice, d.invoice]


def today_register():
    today = timezone.localdate()
    return invoice_register(start=today, end=today)


def test_each_invoice_is_a_row_with_its_base_and_vat_per_rate_and_the_totals_add_up(day_of_sales):
    a, b, c, d = day_of_sales
    register = today_register()

    assert register.rates == ["21.00", "10.00", "0.00"]
    rows = {row.number: row for row in register.rows}
    assert [row.number for row in register.rows] == [a.number, b.number, c.number, d.number]
    assert rows[a.number].by_rate == {"21.00": (D("24.79"), D("5.21")), "10.00": (D("20.00"), D("2.00"))}
    assert (rows[a.number].customer_tax_id, rows[a.number].customer_name) == ("12345678Z", "=SUM(A1) Pérez")
    assert rows[a.number].total == D("52.00")  # the 5.00 tip is not invoiced
    assert rows[b.number].by_rate == {"21.00": (D("22.31"), D("4.69"))} and rows[b.number].total == D("27.00")
    assert (rows[c.number].customer_tax_id, rows[c.number].customer_name) == ("", "Anna Smith")  # a passport
    assert rows[c.number].by_rate == {"0.00": (D("50.00"), D("0.00"))}
    assert rows[d.number].total == D("30.00")
    assert register.rate_totals() == {
        "21.00": (D("71.89"), D("15.11")),
        "10.00": (D("20.00"), D("2.00")),
        "0.00": (D("50.00"), D("0.00")),
    }
    assert register.total == D("159.00")


def test_the_register_total_equals_the_sales_report_revenue_of_the_same_days(day_of_sales):
    today = timezone.localdate()
    revenue = sales_report(today=today, start=today, end=today)["revenue"]
    register = today_register()

    assert revenue == register.total == D("159.00")
    assert register_reconciliation(register)["reconciled"] is True


def test_a_rectifying_invoice_is_a_negative_row_and_the_reconciliation_names_it(day_of_sales):
    b = day_of_sales[1]
    rectifying = invoice_rectify(invoice=b, reason="Service not given")
    today = timezone.localdate()
    register = today_register()

    row = register.rows[-1]
    assert (row.number, row.kind, row.rectifies) == (rectifying.number, InvoiceKind.RECTIFYING, b.number)
    assert (row.by_rate, row.total) == ({"21.00": (D("-22.31"), D("-4.69"))}, D("-27.00"))
    assert register.total == D("132.00")
    reconciliation = register_reconciliation(register)
    assert reconciliation == {
        "report_revenue": sales_report(today=today, start=today, end=today)["revenue"],
        "sales_not_invoiced_in_period": D("0.00"),
        "invoices_of_sales_not_in_report": D("0.00"),
        "rectifying_invoices": D("-27.00"),
        "register_total": D("132.00"),
        "reconciled": True,
    }
    assert reconciliation["report_revenue"] + reconciliation["rectifying_invoices"] == register.total


def test_sales_invoiced_on_another_day_or_not_at_all_are_the_reconciliation_s_other_lines():
    today = timezone.localdate()
    f.CompletedCartFactory()  # completed today, never invoiced (imported history)
    last_month = f.CompletedCartFactory(completed_at=timezone.now() - timedelta(days=40))
    f.InvoiceFactory(cart=last_month, year=today.year, issue_date=today, total=D("12.10"))
    register = today_register()

    reconciliation = register_reconciliation(register)
    assert reconciliation["report_revenue"] == sales_report(today=today, start=today, end=today)["revenue"]
    assert reconciliation["report_revenue"] == D("12.10")
    assert reconciliation["sales_not_invoiced_in_period"] == D("12.10")
    assert reconciliation["invoices_of_sales_not_in_report"] == D("12.10")
    assert register.total == D("12.10") and reconciliation["reconciled"] is True


def test_an_archived_sale_s_invoice_stays_in_the_register_with_its_vat_from_the_archived_lines():
    from maintenance.archive import archive_run

    old = f.CompletedCartFactory(completed_at=timezone.now() - timedelta(days=3 * 365))
    f.CartItemFactory(cart=old)
    f.PaymentFactory(cart=old)
    issued = timezone.localdate(old.completed_at)
    invoice = f.InvoiceFactory(cart=old, year=issued.year, issue_date=issued, tax_breakdown={})
    archive_run(dry_run=False)

    register = invoice_register(start=issued, end=issued)
    (row,) = register.rows
    assert (row.number, row.by_rate, row.total) == (invoice.number, {"21.00": (D("10.00"), D("2.10"))}, D("12.10"))
    reconciliation = register_reconciliation(register)
    assert reconciliation["report_revenue"] == D("0.00")  # the report reads the live sales only
    assert reconciliation["invoices_of_sales_not_in_report"] == D("12.10") and reconciliation["reconciled"]


def test_after_a_gdpr_erasure_the_row_keeps_its_amounts_without_the_customer(day_of_sales):
    a = day_of_sales[0]
    Invoice.objects.filter(pk=a.pk).anonymise_customer()
    row = today_register().rows[0]
    assert (row.number, row.customer_tax_id, row.customer_name, row.total) == (a.number, "", "", D("52.00"))


def test_the_csv_speaks_the_reader_s_language_and_escapes_formulas(day_of_sales):
    register = today_register()
    with translation.override("es"):
        spanish = invoice_register_csv(register).decode("utf-8-sig")
    with translation.override("en"):
        english = invoice_register_csv(register).decode("utf-8-sig")

    rows = list(csv.reader(io.StringIO(spanish), delimiter=";"))
    with translation.override("es"):
        assert rows[0][:2] == [gettext("Issue date"), gettext("Number")]  # in Spanish once the catalogue has them
    assert rows[1][4:6] == ["12345678Z", "'=SUM(A1) Pérez"]
    assert rows[-1][-2] == "159,00" and rows[1][6:10] == ["24,79", "5,21", "20,00", "2,00"]
    english_rows = list(csv.reader(io.StringIO(english)))
    assert english_rows[0][6:8] == ["Base 21%", "VAT 21%"] and english_rows[-1][-2] == "159.00"


def test_the_xlsx_holds_numbers_with_two_decimals_and_a_totals_row(day_of_sales):
    with translation.override("en"):
        data = invoice_register_xlsx(today_register())
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][6:12] == ("Base 21%", "VAT 21%", "Base 10%", "VAT 10%", "Base 0%", "VAT 0%")
    assert rows[1][5] == "'=SUM(A1) Pérez" and rows[1][6] == pytest.approx(24.79)
    assert rows[-1][0] == "Total" and rows[-1][12] == pytest.approx(159.00)
    assert sheet.cell(row=2, column=7).number_format == "#,##0.00"


def test_the_verifactu_records_carry_the_hashed_fields_and_a_good_chain_verifies(day_of_sales):
    today = timezone.localdate()
    records = verifactu_records(start=today, end=today)
    header = records["header"]
    assert header["count"] == 4 and header["chain"]["ok"] is True and header["chain"]["first_broken"] is None
    assert header["period"] == {"from": today.isoformat(), "to": today.isoformat()}
    first, second = records["records"][:2]
    assert first["number"] == day_of_sales[0].number and first["total"] == "52.00" and first["previous_hash"] is None
    assert second["previous_hash"] == first["hash"] and second["hash_matches"] is True
    assert json.loads(json.dumps(records)) == records


def test_a_tampered_invoice_makes_the_header_say_the_chain_is_broken_naming_it(day_of_sales):
    b = day_of_sales[1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Invoice._meta.db_table} SET total = total + 1, net_total = net_total + 1 WHERE id = %s", [b.pk]
        )
    today = timezone.localdate()
    records = verifactu_records(start=today, end=today)
    chain = records["header"]["chain"]
    assert chain["ok"] is False and chain["first_broken"]["number"] == b.number
    assert "altered" in chain["first_broken"]["problem"]
    assert [r["hash_matches"] for r in records["records"]] == [True, False, True, True]
