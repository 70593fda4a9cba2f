"""Timely's "Customer credit details" report: only active credits become gift cards, and their
balances reconcile to the cent.

Columns: https://help.gettimely.com/hc/en-gb/articles/34276252639767-How-to-use-the-Customer-credit-details-report
"""

from decimal import Decimal

import pytest
from django.db.models import Sum

from marketing.models import GiftCard, GiftCardStatus
from tests.legacy.peers.helpers import FILES, counts, run

pytestmark = pytest.mark.django_db
BALANCES = FILES / "timely" / "balances.csv"


def test_active_credits_become_gift_cards_worth_187_euros():
    run("fresha", FILES / "fresha" / "clients.csv")

    code, report = run("timely", BALANCES)

    assert code == 0, report
    assert report["entities"]["balances"] == {"read": 8, "created": 5, "updated": 0, "already": 0, "skipped": 3}
    reasons = {s["row"]: s["reason"] for s in report["skipped"]}
    assert reasons[4] == "a gift card with nothing left on it"
    assert "Expired" in reasons[5] and reasons[8] == "a negative balance"
    assert GiftCard.objects.aggregate(s=Sum("current_balance"))["s"] == Decimal("187.00")
    assert set(GiftCard.objects.values_list("status", flat=True)) == {GiftCardStatus.ACTIVE}
    assert GiftCard.objects.filter(owner__name="María José", current_balance=Decimal("30.00")).exists()
    card = GiftCard.objects.get(owner__name="María José")
    assert card.initial_balance == Decimal("50.00")
    assert sum(m.amount for m in card.movements.all()) == Decimal("30.00")
    money = report["money"][0]
    assert (money["source"], money["skipped"], money["beils"], money["ok"]) == ("192.00", "5.00", "187.00", True)


def test_rows_without_an_id_are_keyed_by_their_cells_so_a_second_run_creates_nothing():
    run("timely", BALANCES)
    before = counts()

    code, report = run("timely", BALANCES)

    assert code == 0 and counts() == before
    assert report["entities"]["balances"]["already"] == 5
