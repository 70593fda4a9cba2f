"""Money arithmetic in Decimal. Prices are VAT-inclusive (Spanish salon practice)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def split_vat(gross: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    """Split a VAT-inclusive amount into (net, VAT) so that net + VAT == gross exactly."""
    net = round_money(gross * 100 / (100 + rate))
    return net, gross - net
