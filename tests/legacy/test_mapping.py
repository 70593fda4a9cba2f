"""How the old system's values become Beils' values (no database needed)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bookings.models import BookingStatus
from legacy import mapping as m
from legacy.importer import ENTITIES
from legacy.models import LegacyError
from legacy.source import source_config
from sales.models import CartStatus


@pytest.mark.parametrize(
    ("stored", "cents"),
    [(19.99, "19.99"), (0.1 + 0.2, "0.30"), (45.0, "45.00"), (2.675, "2.68"), (1.005, "1.01"), (None, "0.00")],
)
def test_a_double_becomes_the_cents_the_old_app_showed(stored, cents):
    assert m.money(stored) == Decimal(cents)


@pytest.mark.parametrize(
    ("spelling", "status"),
    [("PENDIENTE", BookingStatus.PENDING), ("pending", BookingStatus.PENDING), ("CONFIRMADA", BookingStatus.CONFIRMED),
     ("confirmed", BookingStatus.CONFIRMED), ("COMPLETADA", BookingStatus.COMPLETED), ("completed", BookingStatus.COMPLETED),
     ("CANCELADA", BookingStatus.CANCELLED), ("cancelled", BookingStatus.CANCELLED), ("AUSENTE", BookingStatus.NO_SHOW),
     ("no_show", BookingStatus.NO_SHOW), ("No Show", BookingStatus.NO_SHOW)],
)  # fmt: skip
def test_every_booking_status_spelling_maps_to_one_choice(spelling, status):
    assert m.booking_status(spelling) == status


def test_an_unknown_booking_status_is_left_for_the_report():
    assert m.booking_status("EN_CURSO") is None


def test_a_sale_on_credit_that_stayed_pending_is_a_completed_sale():
    assert m.sale_status("pending", has_debt=True, invoiced=False) == (CartStatus.COMPLETED, True)
    assert m.sale_status("pending", has_debt=False, invoiced=False) == (CartStatus.OPEN, True)
    assert m.sale_status("???", has_debt=False, invoiced=True) == (CartStatus.COMPLETED, False)


def test_blank_text_and_placeholder_emails_are_unknown():
    assert m.text("  ") is None and m.text("") is None
    assert m.email("sin-correo-1717171717-3@cliente.local") is None
    assert m.email(" Lucia.3@Correo.Example ") == "lucia.3@correo.example"


def test_a_birth_date_equal_to_the_creation_day_is_unknown():
    created = datetime(2025, 3, 1, 10, 30)
    assert m.birth_date(date(2025, 3, 1), created=created) == (None, None)
    assert m.birth_date(date(1984, 5, 2), created=created) == (date(1984, 5, 2), None)
    assert m.birth_date(date(2199, 1, 1), created=created) == (None, "2199-01-01")


def test_countries_genders_and_documents_are_normalised():
    assert m.country("España") == "ES" and m.country("") is None and m.country("Atlantis") is None
    assert m.gender("F") == "F" and m.gender("") is None
    assert m.document_type("DNI", None) is None and m.document_type("NIE", "X1234567L") == "NIE"


def test_booking_times_are_the_salons_wall_clock_across_daylight_saving(settings):
    settings.TIME_ZONE = "Europe/Madrid"
    day = datetime(2025, 3, 30)  # clocks go forward at 02:00 in Madrid

    start, end, note = m.booking_times(day, "10:15", "11:00", 45)

    assert start.astimezone(UTC) == datetime(2025, 3, 30, 8, 15, tzinfo=UTC)
    assert (end - start).total_seconds() == 45 * 60 and note is None


def test_a_booking_without_a_sane_end_lasts_its_duration():
    start, end, note = m.booking_times(date(2025, 1, 10), "23:30", "00:15", 45)
    assert (end - start).total_seconds() == 45 * 60 and "not after the start" in note
    with pytest.raises(ValueError, match="not HH:mm"):
        m.booking_times(date(2025, 1, 10), "7.30", "", 30)


def test_the_password_is_read_from_the_environment_and_never_shown(monkeypatch):
    monkeypatch.setenv("LEGACY_DATABASE_PASSWORD", "from-env")
    config = source_config("mysql://beils@db.example:3307/salon")
    assert config.password == "from-env" and config.port == 3307
    assert config.public_url == "mysql://beils@db.example:3307/salon"
    in_url = source_config("mysql://beils:p%40ss@db.example/salon")
    assert in_url.password == "p@ss" and "p@ss" not in in_url.public_url


def test_a_missing_or_malformed_source_is_refused(monkeypatch):
    monkeypatch.delenv("LEGACY_DATABASE_URL", raising=False)
    with pytest.raises(LegacyError, match="--from"):
        source_config(None)
    with pytest.raises(LegacyError, match="mysql://"):
        source_config("postgres://db/salon")


def test_the_entities_are_imported_after_what_they_point_at():
    assert ENTITIES.index("users") < ENTITIES.index("consents") < ENTITIES.index("bookings")
    assert ENTITIES.index("packages") < ENTITIES.index("client_packages") < ENTITIES.index("carts")
    assert ENTITIES.index("carts") < ENTITIES.index("debts") < ENTITIES.index("debt_payments")
