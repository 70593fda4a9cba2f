"""Money arithmetic in Decimal. Prices are VAT-inclusive (Spanish salon practice)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import formats
from django.utils.translation import pgettext

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def split_vat(gross: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    """Split a VAT-inclusive amount into (net, VAT) so that net + VAT == gross exactly."""
    net = round_money(gross * 100 / (100 + rate))
    return net, gross - net


def format_money(amount, *, empty: str = "—") -> str:
    """Money as people read it, in the active language: ``1234.5`` → ``1.234,50 €`` in Spanish,
    ``1,234.50 €`` in English; ``empty`` for None. Always rounded to the cent, so that a
    ``Sum()`` over SQLite's REAL arithmetic (``59.9000000000000``) shows as ``59,90 €``."""
    if amount is None or amount == "":
        return empty
    try:
        cents = round_money(Decimal(str(amount)))
    except (InvalidOperation, ValueError, TypeError):
        return str(amount)
    number = formats.number_format(cents, decimal_pos=2, use_l10n=True, force_grouping=True)
    # Translators: an amount of money; %(amount)s is the number, already formatted.
    return pgettext("money", "%(amount)s €") % {"amount": number}
