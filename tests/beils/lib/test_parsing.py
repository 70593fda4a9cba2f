from datetime import date, datetime
from decimal import Decimal

import pytest

from beils.lib.parsing import parse_date, parse_datetime, parse_decimal


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("12,50", "12.50"),
        ("12.50", "12.50"),
        ("1.234,50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("€ 1.234,5", "1234.5"),
        ("-3,00 €", "-3.00"),
        ("(4.00)", "-4.00"),
        ("1.234.567", "1234567"),
        ("EUR 7", "7"),
    ],
)
def test_it_reads_amounts_as_salons_and_peers_write_them(text, amount):
    assert parse_decimal(text) == Decimal(amount)


def test_a_source_that_says_its_decimal_mark_is_believed():
    assert parse_decimal("1.234", decimal_separator=",") == Decimal("1234")
    assert parse_decimal("1,234", decimal_separator=".") == Decimal("1234")


@pytest.mark.parametrize("text", ["doce", "1,2,3.4.5x", "NaN", "Infinity"])
def test_it_refuses_what_is_not_an_amount(text):
    with pytest.raises(ValueError, match="is not an amount"):
        parse_decimal(text)


def test_empty_cells_are_none():
    assert parse_decimal("  ") is None
    assert parse_date("") is None


def test_it_reads_dates_in_the_order_the_source_writes_them():
    assert parse_date("03/04/2024") == date(2024, 4, 3)
    assert parse_date("03/04/2024", order="mdy") == date(2024, 3, 4)
    assert parse_date("2024-04-03", order="mdy") == date(2024, 4, 3)
    assert parse_datetime("31/12/2024 18:30") == datetime(2024, 12, 31, 18, 30)
    assert parse_datetime("12/31/2024 6:30 PM", order="mdy") == datetime(2024, 12, 31, 18, 30)
    assert parse_datetime("2024-12-31T18:30:00Z") == datetime(2024, 12, 31, 18, 30)


@pytest.mark.parametrize("text", ["31/02/2024", "mañana", "2024-12-31 25:00"])
def test_it_refuses_what_is_not_a_date(text):
    with pytest.raises(ValueError):
        parse_datetime(text)
