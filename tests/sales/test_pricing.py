"""The money arithmetic of a sale, checked over many generated amounts (hypothesis)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beils.lib.money import round_money, split_vat
from marketing.services import coupon_discount
from sales.pricing import allocate_discount, line_amounts, tax_breakdown

D = Decimal
CENT = D("0.01")

prices = st.decimals(min_value=D("0.00"), max_value=D("9999.99"), places=2)
rates = st.sampled_from([D("0"), D("4"), D("10"), D("21"), D("21.00"), D("7.5")])
quantities = st.integers(min_value=1, max_value=50)


@given(gross=prices, rate=rates)
def test_a_vat_inclusive_amount_splits_into_net_and_vat_that_add_up_to_the_cent(gross, rate):
    net, tax = split_vat(gross, rate)
    assert net + tax == gross
    assert net == net.quantize(CENT) and tax == tax.quantize(CENT)
    # The net is the exact net rounded half-up: never more than half a cent away.
    assert abs(net - gross * 100 / (100 + rate)) <= D("0.005")
    assert tax >= 0


@given(unit=prices, quantity=quantities, rate=rates, fraction=st.fractions(min_value=0, max_value=1))
def test_a_line_keeps_net_plus_vat_equal_to_its_gross_after_any_discount(unit, quantity, rate, fraction):
    before = unit * quantity
    discount = round_money(before * D(fraction.numerator) / D(fraction.denominator))
    amounts = line_amounts(unit_price=unit, quantity=quantity, tax_rate=rate, discount=discount)
    assert amounts.gross == before - discount >= 0
    assert amounts.net + amounts.tax == amounts.gross


def test_a_line_refuses_a_discount_larger_than_itself():
    with pytest.raises(ValueError):
        line_amounts(unit_price=D("10.00"), quantity=1, tax_rate=D("21"), discount=D("10.01"))


def test_rounding_is_half_up_not_bankers():
    assert round_money(D("0.125")) == D("0.13") and round_money(D("0.135")) == D("0.14")
    # 10 % of 0.25 is 0.025: half-up gives 0.03 where banker's rounding would give 0.02.
    assert coupon_discount(kind="PERCENT", value=D("10"), subtotal=D("0.25")) == D("0.03")


@given(grosses=st.lists(prices, min_size=1, max_size=12), fraction=st.fractions(min_value=0, max_value=1))
def test_a_cart_discount_is_shared_in_whole_cents_that_add_up_and_never_exceed_a_line(grosses, fraction):
    total = sum(grosses, D("0"))
    discount = round_money(total * D(fraction.numerator) / D(fraction.denominator))
    shares = allocate_discount(discount, grosses)
    assert sum(shares, D("0")) == discount
    assert all(D("0") <= share <= gross for share, gross in zip(shares, grosses, strict=True))
    assert all(share == share.quantize(CENT) for share in shares)


@given(grosses=st.lists(prices.filter(lambda p: p > 0), min_size=2, max_size=6), discount=prices)
def test_shares_are_proportional_to_within_a_cent(grosses, discount):
    total = sum(grosses, D("0"))
    discount = min(discount, total)
    for share, gross in zip(allocate_discount(discount, grosses), grosses, strict=True):
        assert abs(share - discount * gross / total) < CENT


@given(subtotal=prices, value=st.decimals(min_value=D("0.01"), max_value=D("100"), places=2))
def test_a_percent_coupon_is_the_rounded_share_and_never_more_than_the_subtotal(subtotal, value):
    off = coupon_discount(kind="PERCENT", value=value, subtotal=subtotal)
    assert 0 <= off <= subtotal
    assert off == round_money(subtotal * value / 100)


@given(subtotal=prices, value=st.decimals(min_value=D("0.01"), max_value=D("500"), places=2))
def test_a_fixed_coupon_is_capped_at_the_subtotal(subtotal, value):
    assert coupon_discount(kind="FIXED", value=value, subtotal=subtotal) == min(value, subtotal)


def test_totals_by_vat_rate_add_the_lines_of_each_rate():
    lines = [(D("21"), D("10.00"), D("2.10"), D("12.10")), (D("10"), D("5.00"), D("0.50"), D("5.50")),
             (D("21.00"), D("1.00"), D("0.21"), D("1.21"))]  # fmt: skip
    assert tax_breakdown(lines) == {
        "10.00": {"net": "5.00", "tax": "0.50", "gross": "5.50"},
        "21.00": {"net": "11.00", "tax": "2.31", "gross": "13.31"},
    }
