"""Reading the values other systems write: amounts as ``12,50``, ``1.234,50``, ``1,234.50`` or
``€12.50``; dates as ``31/12/2024``, ``12/31/2024`` or ``2024-12-31``, with or without a time.

Every function takes the text of one cell and either returns the value or raises ``ValueError``
with a message a person can act on; an empty cell is ``None``. What a profile knows about its
source (``dmy`` or ``mdy`` dates) is passed in; nothing here guesses from other rows.
"""

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

#: Currency signs and codes that may stand beside an amount.
_CURRENCY = re.compile(r"(?i)(€|eur|\$|usd|£|gbp)")
_DATE_ORDERS = {"dmy": ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y"),
                "mdy": ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y"),
                "ymd": ("%Y-%m-%d", "%Y/%m/%d")}  # fmt: skip
_TIMES = ("%H:%M:%S", "%H:%M", "%I:%M %p", "%I:%M:%S %p", "%I:%M%p", "%I%p")


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_decimal(value, *, decimal_separator: str | None = None) -> Decimal | None:
    """An amount. ``decimal_separator`` (``","`` or ``"."``) when the source says; otherwise
    the last of ``.`` and ``,`` is the decimal mark when it is followed by one or two digits
    (``1.234,5`` and ``1,234.50`` both read as 1234.5; ``1.234`` alone reads as 1.234)."""
    if blank(value):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = _CURRENCY.sub("", str(value)).replace("\u00a0", "").replace(" ", "").replace("'", "")
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    separator = decimal_separator or _decimal_mark(text)
    thousands = "." if separator == "," else ","
    text = text.replace(thousands, "").replace(separator, ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("“%(value)s” is not an amount.") % {"value": value}) from None
    if not amount.is_finite():
        raise ValueError(_("“%(value)s” is not an amount.") % {"value": value})
    return -amount if negative else amount


def _decimal_mark(text: str) -> str:
    last = max(text.rfind(","), text.rfind("."))
    if last < 0:
        return "."
    mark = text[last]
    if text.count(mark) > 1:  # 1.234.567 or 1,234,567: thousands only
        return "," if mark == "." else "."
    return mark


def parse_date(value, *, order: str = "dmy") -> date | None:
    """A calendar day written in ``order`` (``dmy``, ``mdy`` or ``ymd``); ISO dates
    (``2024-12-31``) are read in every order. A time after the day is ignored."""
    moment = parse_datetime(value, order=order)
    return moment.date() if moment else None


def parse_datetime(value, *, order: str = "dmy") -> datetime | None:
    """A naive date and time (midnight when only a day is given). The caller makes it aware in
    the salon's time zone."""
    if blank(value):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime.combine(value, time())
    text = str(value).strip().replace("T", " ").rstrip("Z")
    day_text, _space, time_text = text.partition(" ")
    day = _day(day_text, order)
    if day is None:
        raise ValueError(_("“%(value)s” is not a date.") % {"value": value})
    clock = _time(time_text.strip()) if time_text.strip() else time()
    if clock is None:
        raise ValueError(_("“%(value)s” has a time that cannot be read.") % {"value": value})
    return datetime.combine(day, clock)


def _day(text: str, order: str) -> date | None:
    for pattern in _DATE_ORDERS["ymd"] + _DATE_ORDERS.get(order, ()):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _time(text: str) -> time | None:
    text = re.sub(r"[+-]\d{2}:?\d{2}$", "", text).split(".")[0].strip().upper()
    for pattern in _TIMES:
        try:
            return datetime.strptime(text, pattern).time()
        except ValueError:
            continue
    return None
