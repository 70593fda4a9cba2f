"""How the old system's values become Beils' values: pure functions, no database.

The old system stored free strings in two languages and several cases, '' for unknown, DOUBLE
for money and ``HH:mm`` strings for times. Every function here returns the Beils value, or None
when the old value means "unknown"; the importer reports what it had to guess.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

from bookings.models import BookingStatus
from crm.models import ConsentStatus, ConsentType, DocumentType, Gender
from marketing.models import CouponKind, GiftCardStatus
from sales.models import CartStatus, DebtStatus, PaymentMethod

CENT = Decimal("0.01")
PLACEHOLDER_EMAIL = re.compile(r"@cliente\.local$", re.IGNORECASE)
HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def money(value) -> Decimal:
    """A DOUBLE as Decimal cents. ``repr`` is the shortest string that reads back as the same
    double (19.99, not 19.989999999999998436805981327779591083526611328125), so rounding it
    half-up gives the cents the old app showed."""
    if value is None:
        return Decimal("0.00")
    if isinstance(value, float):
        value = repr(value)
    try:
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(_("%(value)r is not an amount of money") % {"value": value}) from exc


def text(value) -> str | None:
    """'' and whitespace are the old system's "unknown": NULL in Beils."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def email(value) -> str | None:
    value = text(value)
    if value is None or PLACEHOLDER_EMAIL.search(value):
        return None
    return value.lower()


def aware(value: datetime | None) -> datetime | None:
    """The old DATETIME columns hold UTC without a zone (Prisma writes UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC)


def birth_date(value: date | None, *, created: datetime | None) -> tuple[date | None, str | None]:
    """(birth date, why it was dropped). The old app stored the creation day when it did not
    know the birth date: that is unknown, not a newborn client."""
    if value is None:
        return None, None
    if created is not None and value == created.date():
        return None, None
    if value.year < 1900 or value > date.today():
        return None, value.isoformat()
    return value, None


COUNTRIES = {"españa": "ES", "espana": "ES", "spain": "ES", "es": "ES", "portugal": "PT", "pt": "PT",
             "francia": "FR", "france": "FR", "fr": "FR", "italia": "IT", "italy": "IT", "it": "IT",
             "alemania": "DE", "germany": "DE", "de": "DE", "reino unido": "GB", "uk": "GB", "gb": "GB"}  # fmt: skip


def country(value) -> str | None:
    value = text(value)
    if value is None:
        return None
    return COUNTRIES.get(value.lower()) or (value.upper() if re.fullmatch(r"[A-Za-z]{2}", value) else None)


GENDERS = {"f": Gender.FEMALE, "female": Gender.FEMALE, "mujer": Gender.FEMALE, "m": Gender.MALE,
           "male": Gender.MALE, "hombre": Gender.MALE, "h": Gender.MALE, "x": Gender.OTHER, "o": Gender.OTHER,
           "otro": Gender.OTHER, "other": Gender.OTHER}  # fmt: skip


def gender(value) -> str | None:
    value = text(value)
    return GENDERS.get(value.lower()) if value else None


def document_type(value, number: str | None) -> str | None:
    # The old column defaults to DNI even when no document was given: no number, no type.
    if number is None:
        return None
    value = (text(value) or "").upper()
    return value if value in DocumentType.values else DocumentType.DNI


def on_off(value) -> str:
    value = (text(value) or "").lower()
    return "OFF" if value in ("off", "inactivo", "inactive", "0", "false", "baja", "deleted") else "ON"


# --- Statuses: every spelling seen in old installations → one TextChoices value --------------

BOOKING_STATUSES = {
    "pendiente": BookingStatus.PENDING, "pending": BookingStatus.PENDING,
    "confirmada": BookingStatus.CONFIRMED, "confirmado": BookingStatus.CONFIRMED, "confirmed": BookingStatus.CONFIRMED,
    "completada": BookingStatus.COMPLETED, "completado": BookingStatus.COMPLETED, "completed": BookingStatus.COMPLETED,
    "finalizada": BookingStatus.COMPLETED, "done": BookingStatus.COMPLETED,
    "cancelada": BookingStatus.CANCELLED, "cancelado": BookingStatus.CANCELLED, "cancelled": BookingStatus.CANCELLED,
    "canceled": BookingStatus.CANCELLED, "anulada": BookingStatus.CANCELLED,
    "ausente": BookingStatus.NO_SHOW, "no_show": BookingStatus.NO_SHOW, "no-show": BookingStatus.NO_SHOW,
    "noshow": BookingStatus.NO_SHOW, "no_presentado": BookingStatus.NO_SHOW,
}  # fmt: skip


def booking_status(value) -> str | None:
    """None for a spelling nobody has seen: the importer reports it."""
    return BOOKING_STATUSES.get((text(value) or "").lower().replace(" ", "_"))


CART_DONE = {"completed", "completada", "completado", "paid", "pagado", "pagada", "finalizada", "cerrada"}
CART_CANCELLED = {"cancelled", "canceled", "cancelada", "cancelado", "anulada", "anulado", "refunded"}
CART_OPEN = {"pending", "pendiente", "open", "abierta", "draft"}


def cart_status(value, *, has_debt: bool) -> str | None:
    """A sale on credit stayed 'pending' in the old app until paid; in Beils it is a completed
    sale with a debt. None for an unknown spelling."""
    value = (text(value) or "").lower()
    if value in CART_DONE:
        return CartStatus.COMPLETED
    if value in CART_CANCELLED:
        return CartStatus.CANCELLED
    if value in CART_OPEN:
        return CartStatus.COMPLETED if has_debt else CartStatus.OPEN
    return None


def sale_status(value, *, has_debt: bool, invoiced: bool) -> tuple[str, bool]:
    """(Beils status, whether the spelling was known). An unknown spelling is a completed sale
    when it was invoiced, else an open one: the importer and the reconciliation agree on it."""
    status = cart_status(value, has_debt=has_debt)
    if status is not None:
        return status, True
    return (CartStatus.COMPLETED if invoiced else CartStatus.OPEN), False


PAYMENT_METHODS = {"cash": PaymentMethod.CASH, "efectivo": PaymentMethod.CASH, "card": PaymentMethod.CARD,
                   "tarjeta": PaymentMethod.CARD, "bizum": PaymentMethod.BIZUM, "transfer": PaymentMethod.TRANSFER,
                   "transferencia": PaymentMethod.TRANSFER, "giftcard": PaymentMethod.GIFT_CARD}  # fmt: skip


def payment_method(value) -> str | None:
    """None for 'mixed', 'debt' and unknown spellings (the importer decides and reports)."""
    return PAYMENT_METHODS.get((text(value) or "").lower())


def debt_status(remaining: Decimal, amount: Decimal) -> str:
    if remaining <= 0:
        return DebtStatus.PAID
    return DebtStatus.PENDING if remaining >= amount else DebtStatus.PARTIAL


LEGACY_DEBT_STATUSES = {"pending": DebtStatus.PENDING, "pendiente": DebtStatus.PENDING,
                        "partial": DebtStatus.PARTIAL, "parcial": DebtStatus.PARTIAL,
                        "paid": DebtStatus.PAID, "pagada": DebtStatus.PAID, "pagado": DebtStatus.PAID}  # fmt: skip


CONSENT_TYPES = {"LGPD": ConsentType.DATA_PROTECTION, "RGPD": ConsentType.DATA_PROTECTION,
                 "INDIBA": ConsentType.INDIBA, "LASER_INNOVA_PRO_SHR": ConsentType.LASER, "LASER": ConsentType.LASER}  # fmt: skip
CONSENT_STATUSES = {"signed": ConsentStatus.SIGNED, "firmado": ConsentStatus.SIGNED,
                    "unsigned": ConsentStatus.UNSIGNED, "pendiente": ConsentStatus.UNSIGNED,
                    "revoked": ConsentStatus.REVOKED, "revocado": ConsentStatus.REVOKED}  # fmt: skip

COUPON_KINDS = {"percentage": CouponKind.PERCENT, "percent": CouponKind.PERCENT, "porcentaje": CouponKind.PERCENT,
                "fixed": CouponKind.FIXED, "fijo": CouponKind.FIXED, "amount": CouponKind.FIXED}  # fmt: skip

GIFT_CARD_STATUSES = {"active": GiftCardStatus.ACTIVE, "activo": GiftCardStatus.ACTIVE,
                      "activa": GiftCardStatus.ACTIVE, "spent": GiftCardStatus.SPENT, "used": GiftCardStatus.SPENT,
                      "usada": GiftCardStatus.SPENT, "expired": GiftCardStatus.EXPIRED,
                      "caducada": GiftCardStatus.EXPIRED, "cancelled": GiftCardStatus.CANCELLED,
                      "anulada": GiftCardStatus.CANCELLED}  # fmt: skip


# --- Booking times --------------------------------------------------------------------------


def clock(value) -> time | None:
    match = HHMM.match(str(value or ""))
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        return None
    return time(hours, minutes)


def booking_times(
    day: datetime | date, start: str, end: str, duration: int | None
) -> tuple[datetime, datetime, str | None]:
    """(start, end, a note on what was guessed) as aware datetimes in the salon's time zone.

    ``booking_date`` holds the day (as UTC midnight); the times are the salon's wall clock. An end
    missing or not after the start is the start plus the booking's duration. Raises ValueError
    when the start time cannot be read."""
    zone = ZoneInfo(settings.TIME_ZONE)
    day = day.date() if isinstance(day, datetime) else day
    begins = clock(start)
    if begins is None:
        raise ValueError(_("start time %(start)r is not HH:mm") % {"start": start})
    starts = datetime.combine(day, begins, tzinfo=zone)
    ends_at, note = clock(end), None
    ends = datetime.combine(day, ends_at, tzinfo=zone) if ends_at else None
    if ends is None or ends <= starts:
        minutes = duration if duration and duration > 0 else 30
        note = f"end time {end!r} is not after the start: the end is the start plus {minutes} minutes"
        ends = starts + timedelta(minutes=minutes)
    return starts, ends, note
