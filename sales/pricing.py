"""The money arithmetic of a sale, as pure functions: no database, so it can be tested exhaustively.

Prices are VAT-inclusive (Spanish salon practice). A line's gross is what the client pays for it;
its net and VAT are derived from the gross, so that net + VAT == gross to the cent on every line,
and a cart's totals are sums of its lines (never recomputed from the cart total, which would
round differently).
"""

from dataclasses import dataclass
from decimal import Decimal

from beils.lib.money import CENT, ZERO, round_money, split_vat


@dataclass(frozen=True)
class LineAmounts:
    discount: Decimal
    net: Decimal
    tax: Decimal
    gross: Decimal


def line_amounts(*, unit_price: Decimal, quantity: int, tax_rate: Decimal, discount: Decimal = ZERO) -> LineAmounts:
    """Net, VAT and gross of a line of ``quantity`` × ``unit_price`` (VAT incl.) less ``discount``.

    The discount reduces the taxable base: VAT is split from what the client actually pays.
    """
    before = round_money(unit_price * quantity)
    if discount < 0 or discount > before:
        raise ValueError(f"A line discount must be between 0 and {before}, not {discount}.")  # i18n: technical
    gross = before - discount
    net, tax = split_vat(gross, tax_rate)
    return LineAmounts(discount=discount, net=net, tax=tax, gross=gross)


def allocate_discount(discount: Decimal, grosses: list[Decimal]) -> list[Decimal]:
    """Share a cart discount among lines in proportion to their gross, in whole cents.

    Largest-remainder allocation: the shares add up to ``discount`` exactly and no line gets more
    than its own gross, so no line goes negative.
    """
    total = sum(grosses, ZERO)
    if discount < 0 or discount > total:
        raise ValueError(
            f"A discount must be between 0 and the lines' total {total}, not {discount}."
        )  # i18n: technical
    if discount == 0 or total == 0:
        return [ZERO for _ in grosses]
    cents = int(discount / CENT)
    exact = [gross * cents / total for gross in grosses]
    shares = [int(e) for e in exact]  # floor: every value is non-negative
    leftover = cents - sum(shares)
    # Hand the remaining cents to the largest fractional parts (earliest line first on ties).
    order = sorted(range(len(grosses)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[:leftover]:
        shares[i] += 1
    return [Decimal(share) * CENT for share in shares]


def tax_breakdown(lines: list[tuple[Decimal, Decimal, Decimal, Decimal]]) -> dict[str, dict[str, str]]:
    """Totals by VAT rate, from ``(rate, net, tax, gross)`` tuples, as an invoice prints them."""
    by_rate: dict[str, list[Decimal]] = {}
    for rate, net, tax, gross in lines:
        sums = by_rate.setdefault(f"{rate:.2f}", [ZERO, ZERO, ZERO])
        sums[0] += net
        sums[1] += tax
        sums[2] += gross
    return {
        rate: {"net": f"{net:.2f}", "tax": f"{tax:.2f}", "gross": f"{gross:.2f}"}
        for rate, (net, tax, gross) in sorted(by_rate.items())
    }
