"""Parallel tills on MariaDB: a bono's last session and a gift card's last euros are taken once."""

from decimal import Decimal

import pytest
from django.db import connection

from marketing.models import BonusRedemption, ClientBonus, GiftCard, MarketingError
from marketing.services import client_bonus_redeem, gift_card_issue, gift_card_redeem
from tests.factories import ClientBonusFactory
from tests.sales.test_concurrency import run_tills

pytestmark = [
    pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB"),
    pytest.mark.django_db(transaction=True),
]


def test_parallel_redemptions_never_take_more_sessions_than_a_bono_has():
    client_bonus = ClientBonusFactory(sessions_total=5, sessions_remaining=3)
    results, errors = run_tills(
        8, lambda _i: client_bonus_redeem(client_bonus=ClientBonus.objects.get(pk=client_bonus.pk))
    )
    assert len(results) == 3 and len(errors) == 5
    assert all(isinstance(e, MarketingError) for e in errors), errors
    assert ClientBonus.objects.get().sessions_remaining == 0
    assert BonusRedemption.objects.count() == 3


def test_parallel_payments_never_take_a_gift_card_below_zero():
    card = gift_card_issue(amount=Decimal("50.00"))
    results, errors = run_tills(6, lambda _i: gift_card_redeem(code=card.code, amount=Decimal("20.00")))
    assert len(results) == 2 and len(errors) == 4
    assert all(isinstance(e, MarketingError) for e in errors), errors
    assert GiftCard.objects.get().current_balance == Decimal("10.00")
