"""Square's customer directory and Items Detail exports reconcile as the fixtures' README says.

Columns: the customer directory export
(https://squareup.com/help/us/en/article/5072-customer-directory-import-and-export and
https://squareup.com/help/us/en/article/6632-import-customers-online) and the Items Detail export
(https://squareup.com/help/us/en/article/5530 for its definitions; a real 2026 export:
https://github.com/zoetankersley/sunrise_social_club/blob/main/data/raw/items-2026-07-18-2026-07-19.csv).
"""

from decimal import Decimal

import pytest
from django.db.models import Sum

from crm.models import Client
from sales.models import Cart, CartItem, Payment, PaymentMethod
from tests.legacy.peers.helpers import FILES, counts, run

pytestmark = pytest.mark.django_db
F = FILES / "square"


def test_the_customer_directory_reconciles_with_its_duplicate_linked():
    code, report = run("square", F / "clients.csv")

    assert code == 0, report
    assert report["entities"]["clients"] == {"read": 10, "created": 8, "updated": 1, "already": 0, "skipped": 1}
    assert report["skipped"][0]["row"] == 10
    marta = Client.objects.get(email="marta.sv@gmail.com")
    assert report["duplicates"][0]["clients"] == [marta.pk]
    assert Client.objects.filter(name="Alba", surname=None).exists()


def test_items_detail_sales_are_net_plus_tax_with_the_rate_from_the_amounts():
    run("square", F / "clients.csv")

    code, report = run("square", F / "sales.csv", skip_invalid=True)

    assert code == 0, report
    assert report["entities"]["sales"]["created"] == 5 and report["entities"]["sales"]["skipped"] == 1
    assert Cart.objects.count() == 5 and CartItem.objects.count() == 6
    assert Cart.objects.aggregate(s=Sum("total"))["s"] == Decimal("156.60")
    lines = CartItem.objects.values("tax_rate").annotate(net=Sum("net"), tax=Sum("tax"))
    assert {r["tax_rate"]: (r["net"], r["tax"]) for r in lines} == {
        Decimal("21.00"): (Decimal("94.30"), Decimal("19.80")), Decimal("10.00"): (Decimal("38.64"), Decimal("3.86"))
    }  # fmt: skip
    assert Cart.objects.filter(client__email="carmen.ruiz@gmail.com").get().total == Decimal("47.50")
    assert report["reconciled"]


def test_the_unreadable_date_refuses_the_sales_file_by_default():
    code, report = run("square", F / "sales.csv")

    assert code == 1 and report["errors"][0]["row"] == 8 and report["errors"][0]["column"] == "Date"
    assert counts()["Cart"] == 0


def test_the_transactions_file_gives_the_sales_their_card_and_cash_payments():
    files = (F / "clients.csv", F / "sales.csv", F / "transactions.csv")

    code, report = run("square", *files, skip_invalid=True)

    assert code == 0, report
    assert [f["entity"] for f in report["files"]] == ["clients", "sales", "payments"]
    assert report["entities"]["payments"] == {"read": 6, "created": 0, "updated": 5, "already": 0, "skipped": 1}
    paid = dict(Payment.objects.values_list("method").annotate(s=Sum("amount")))
    assert paid == {PaymentMethod.CARD: Decimal("116.70"), PaymentMethod.CASH: Decimal("39.90")}
    split = Cart.objects.get(total=Decimal("47.50")).payments.values_list("method", "amount")
    assert sorted(split) == [(PaymentMethod.CARD, Decimal("27.50")), (PaymentMethod.CASH, Decimal("20.00"))]
    money = {m["name"]: m for m in report["money"]}
    assert money["payments_file"]["beils"] == "156.60" and money["payments_file"]["ok"]


def test_the_payments_file_run_again_changes_nothing():
    files = (F / "clients.csv", F / "sales.csv", F / "transactions.csv")
    run("square", *files, skip_invalid=True)
    before = counts()

    code, report = run("square", *files, skip_invalid=True)

    assert code == 0 and counts() == before and report["entities"]["payments"]["already"] == 5


def test_a_payments_file_before_its_sales_skips_each_row_with_its_reason():
    code, report = run("square", F / "transactions.csv", skip_invalid=True)

    assert report["entities"]["payments"]["skipped"] == 6
    assert "no imported sale" in report["skipped"][-1]["reason"]
    assert counts()["Payment"] == 0
