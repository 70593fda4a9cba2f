"""What the admin's calendar reads and accepts: the bookable staff (its columns), the bookings of a
range as calendar events, and the forms that check what the calendar sends before the booking
services (``bookings/services.py``) write anything.

Times travel as the salon's wall-clock time without an offset (``2030-03-13T10:00:00``): the
calendar shows the salon's hours whatever the browser's time zone, and reads back what it shows.
"""

import re
from datetime import date, datetime, timedelta

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking, BookingStatus
from catalog.models import Service
from crm.models import Client, Status, User

DAY, WEEK = "day", "week"
#: The hours the calendar opens on; bookings outside them stretch the grid (flexible limits).
OPENING_TIME, CLOSING_TIME = "08:00:00", "21:00:00"
#: The most days one request for events may span (a week view, with room for the edges).
MAX_RANGE_DAYS = 42
#: The id of the column for bookings of nobody bookable (unassigned, or a departed colleague).
UNASSIGNED = "none"
#: Each status's colours (background, text); the legend shows the same.
STATUS_COLOURS = {
    BookingStatus.PENDING: ("#f0b429", "#2b2000"),
    BookingStatus.CONFIRMED: ("#2f6f9f", "#ffffff"),
    BookingStatus.COMPLETED: ("#2e7d32", "#ffffff"),
    BookingStatus.CANCELLED: ("#b0b0b0", "#333333"),
    BookingStatus.NO_SHOW: ("#8d4b4b", "#ffffff"),
}


def bookable_staff():
    """The staff members a client can be booked with: every account that can log in (status ON).
    A switched-off account keeps its past bookings but gets no column."""
    return User.objects.filter(status=Status.ON).order_by("name", "surname", "pk")


def legend() -> list[dict]:
    return [
        {"status": status.value, "label": status.label, "background": bg, "text": fg}
        for status, (bg, fg) in STATUS_COLOURS.items()
    ]


def wall_clock(value: datetime) -> str:
    return timezone.localtime(value).replace(tzinfo=None).isoformat(timespec="seconds")


def parse_wall_clock(value: str | None) -> datetime | None:
    """The calendar's ``2030-03-13T10:00:00`` (or a date, or a time with an offset) as an aware
    datetime in the salon's time zone; None when it is not one."""
    try:
        # A "+" left unencoded in a query string arrives as a space.
        parsed = datetime.fromisoformat(re.sub(r" (\d\d:?\d\d)$", r"+\1", (value or "").strip()))
    except ValueError:
        return None
    if timezone.is_naive(parsed):
        return timezone.make_aware(parsed)
    return timezone.localtime(parsed)


class WallClockField(forms.Field):
    default_error_messages = {"invalid": _("Enter a date and time such as 2030-03-13T10:00:00.")}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        parsed = parse_wall_clock(value)
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed


class StaffField(forms.ModelChoiceField):
    """A column of the calendar: a bookable staff member's id, or ``none`` for no one."""

    def __init__(self, **kwargs):
        super().__init__(queryset=bookable_staff(), required=False, **kwargs)
        self.error_messages["invalid_choice"] = _("Choose a staff member who takes bookings.")

    def to_python(self, value):
        return None if value == UNASSIGNED else super().to_python(value)


class RangeForm(forms.Form):
    """The events the calendar asks for: ``start`` to ``end``, of everybody or one ``staff``."""

    start = WallClockField()
    end = WallClockField()
    staff = StaffField()

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and not start < end <= start + timedelta(days=MAX_RANGE_DAYS):
            raise forms.ValidationError(
                _("Ask for a range that ends after it starts and spans at most %(days)s days."),
                params={"days": MAX_RANGE_DAYS},
            )
        return data


class BookForm(forms.Form):
    """A booking made on the calendar: who, with whom, when, and what for. With services the
    booking lasts as long as they do; without, until ``end``."""

    client = forms.ModelChoiceField(queryset=Client.objects.all(), label=_("client"))
    staff = StaffField(label=_("staff member"))
    start = WallClockField(label=_("start"))
    end = WallClockField(label=_("end"), required=False)
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), required=False, label=_("services"))
    notes = forms.CharField(required=False, max_length=2000, label=_("notes"))

    def clean(self):
        data = super().clean()
        if not data.get("services") and not data.get("end"):
            raise forms.ValidationError(_("Choose at least one service, or give the end time."))
        return data


class MoveForm(forms.Form):
    """A booking dragged (new ``start`` and ``end``, perhaps a new column) or its edge resized."""

    start = WallClockField()
    end = WallClockField()
    staff = StaffField()
    staff_changed = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise forms.ValidationError(gettext("The booking must end after it starts."))
        return data


def form_error(form: forms.Form) -> str:
    """Every error of ``form`` as one sentence a person can read."""
    messages = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        prefix = f"{field.label or name}: " if field is not None and name != "__all__" else ""
        messages += [f"{prefix}{error}" for error in errors]
    return " ".join(messages)


def events_for(*, start: datetime, end: datetime, staff: User | None, can_change: bool) -> list[dict]:
    """The bookings that overlap [start, end) as calendar events, in three queries (bookings
    with their client and staff member, their services, the bookable staff)."""
    bookings = (
        Booking.objects.filter(start__lt=end, end__gt=start)
        .select_related("client", "staff")
        .prefetch_related("items")
        .order_by("start", "pk")
    )
    if staff is not None:
        bookings = bookings.filter(staff=staff)
    columns = set(bookable_staff().values_list("pk", flat=True))
    return [event(booking, columns=columns, can_change=can_change) for booking in bookings]


def event(booking: Booking, *, columns: set[int], can_change: bool) -> dict:
    background, text = STATUS_COLOURS[BookingStatus(booking.status)]
    services = [item.name for item in booking.items.all()]
    title = " · ".join([str(booking.client), *services])
    editable = can_change and not booking.is_closed
    return {
        "id": str(booking.pk),
        "resourceId": str(booking.staff_id) if booking.staff_id in columns else UNASSIGNED,
        "start": wall_clock(booking.start),
        "end": wall_clock(booking.end),
        "title": title,
        "backgroundColor": background,
        "textColor": text,
        "classNames": [f"status-{booking.status}"],
        "editable": editable,
        "startEditable": editable,
        "durationEditable": editable,
        "extendedProps": {
            "status": booking.status,
            "statusLabel": BookingStatus(booking.status).label,
            "staff": booking.staff.get_full_name() if booking.staff else "",
            "url": reverse("admin:bookings_booking_change", args=[booking.pk]),
        },
    }


def resources_for(*, start: datetime, end: datetime) -> list[dict]:
    """The calendar's columns: each bookable staff member, and "Unassigned" when some booking
    in [start, end) belongs to nobody bookable (no one, or a switched-off account)."""
    people = list(bookable_staff())
    columns = [{"id": str(person.pk), "title": person.get_full_name()} for person in people]
    others = Booking.objects.filter(start__lt=end, end__gt=start).exclude(staff__in=[p.pk for p in people])
    if others.exists():
        columns.append({"id": UNASSIGNED, "title": gettext("Unassigned")})
    return columns


def texts() -> dict[str, str]:
    """What the calendar's script says, in the reader's language."""
    return {
        "today": gettext("Today"),
        "day": gettext("Day"),
        "week": gettext("Week"),
        "nextDay": gettext("Next day"),
        "previousDay": gettext("Previous day"),
        "nextWeek": gettext("Next week"),
        "previousWeek": gettext("Previous week"),
        "close": gettext("Close"),
        "saving": gettext("Saving…"),
        "moved": gettext("Booking moved."),
        "booked": gettext("Booking saved."),
        "failed": gettext("The change could not be saved: check your connection and try again."),
        "minutes": gettext("min"),
        "noClients": gettext("No client found."),
        "chooseClient": gettext("Choose a client from the list."),
    }


def services_catalogue() -> list[dict]:
    return [
        {"id": service.pk, "name": service.name, "minutes": service.duration_minutes}
        for service in Service.objects.order_by("name", "pk")
    ]


def parse_day(value) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return timezone.localdate()
