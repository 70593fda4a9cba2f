"""Phorest's sales transactions CSV reconciles to the cent as the fixtures' README says.

Columns: Phorest's CSV export job ``TRANSACTIONS_CSV``
(https://developer.phorest.com/docs/csv-export-job-endpoint), headers as read by parsers of real
files (https://github.com/araquach/phorest-datahub/blob/main/internal/models/transaction_item.go).
"""

from decimal import Decimal

import pytest
from django.db.models import Sum

from crm.models import Client
from sales.chain import invoice_chain_verify
from sales.models import Cart, CartItem, Invoice, Payment, PaymentMethod
from tests.legacy.peers.helpers import FILES, counts, run

pytestmark = pytest.mark.django_db
SALES = FILES / "phorest" / "sales.csv"


def test_the_unreadable_date_refuses_the_file_and_names_its_row():
    code, report = run("phorest", SALES)

    assert code == 1
    assert report["errors"] == [
        {"file": "sales.csv", "row": 10, "column": "purchased_date", "reason": "“2026-02-30” is not a date."}
    ]
    assert counts()["Cart"] == 0 and counts()["Client"] == 0


def test_with_skip_invalid_seven_sales_of_eight_lines_reconcile_to_the_cent():
    code, report = run("phorest", SALES, skip_invalid=True)

    assert code == 0, report
    assert report["entities"]["sales"] == {"read": 9, "created": 7, "updated": 0, "already": 0, "skipped": 2}
    reasons = {s["row"]: s["reason"] for s in report["skipped"]}
    assert reasons[9] == "voided in the other system" and "2026-02-30" in reasons[10]
    assert Cart.objects.count() == 7 and CartItem.objects.count() == 8
    assert Cart.objects.aggregate(s=Sum("total"))["s"] == Decimal("364.70")
    by_rate = {r: (Decimal(0), Decimal(0)) for r in (Decimal("21.00"), Decimal("10.00"), Decimal("0.00"))}
    for line in CartItem.objects.all():
        net, tax = by_rate[line.tax_rate]
        by_rate[line.tax_rate] = (net + line.net, tax + line.tax)
    assert by_rate == {Decimal("21.00"): (Decimal("216.70"), Decimal("45.50")),
                       Decimal("10.00"): (Decimal("38.64"), Decimal("3.86")),
                       Decimal("0.00"): (Decimal("60.00"), Decimal("0.00"))}  # fmt: skip
    paid = dict(Payment.objects.values_list("method").annotate(s=Sum("amount")))
    assert paid == {PaymentMethod.CASH: Decimal("92.50"), PaymentMethod.CARD: Decimal("272.20")}
    assert CartItem.objects.aggregate(s=Sum("discount"))["s"] == Decimal("3.60")
    assert Cart.objects.filter(client=None).count() == 1  # TX1005, a walk-in
    money = {m["name"]: m for m in report["money"]}
    assert money["sales"]["beils"] == "364.70" and money["sales"]["ok"]
    assert money["payments"]["beils"] == "364.70" and money["payments"]["ok"]


def test_the_split_payment_is_two_payments():
    run("phorest", SALES, skip_invalid=True)

    sale = Cart.objects.get(total=Decimal("47.50"))
    assert sorted(sale.payments.values_list("method", "amount")) == [
        (PaymentMethod.CARD, Decimal("27.50")), (PaymentMethod.CASH, Decimal("20.00"))
    ]  # fmt: skip


def test_after_the_fresha_clients_the_sales_find_them_by_e_mail_and_name():
    run("fresha", FILES / "fresha" / "clients.csv")
    clients = Client.objects.count()

    run("phorest", SALES, skip_invalid=True)

    assert Client.objects.count() == clients
    assert Cart.objects.filter(client__name="Chloé").count() == 1  # no e-mail: found by her name


def test_a_second_run_creates_nothing_and_no_sale_is_invoiced():
    run("phorest", SALES, skip_invalid=True)
    before = counts()

    code, report = run("phorest", SALES, skip_invalid=True)

    assert code == 0 and counts() == before
    assert report["entities"]["sales"]["already"] == 7 and report["reconciled"]
    assert Invoice.objects.count() == 0 and invoice_chain_verify().ok
