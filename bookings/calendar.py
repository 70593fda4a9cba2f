"""The appointment book laid out as a day (one column per staff member) or a week (one column
per day), for the admin's calendar page. Two queries: the staff members and the bookings."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.urls import reverse
from django.utils import timezone

from beils.lib.dates import day_bounds
from bookings.models import Booking
from crm.models import User

DAY, WEEK = "day", "week"
#: The hours shown when no booking falls outside them.
OPENING_HOUR, CLOSING_HOUR = 8, 21
PIXELS_PER_MINUTE = 1


@dataclass
class Block:
    booking: Booking
    top: int
    height: int
    lane: int = 0
    lanes: int = 1

    @property
    def url(self) -> str:
        return reverse("admin:bookings_booking_change", args=[self.booking.pk])

    @property
    def left_percent(self) -> int:
        return self.lane * 100 // self.lanes

    @property
    def width_percent(self) -> int:
        return 100 // self.lanes


@dataclass
class Column:
    title: str
    day: date
    staff: User | None = None
    blocks: list[Block] = field(default_factory=list)
    is_today: bool = False


@dataclass
class Calendar:
    view: str
    day: date
    first_day: date
    days: int
    staff: User | None
    staff_choices: list[User]
    columns: list[Column]
    hours: list[int]
    first_hour: int
    height: int

    @property
    def title(self) -> str:
        if self.view == DAY:
            return f"Appointments · {self.day:%A %d %B %Y}"
        last = self.first_day + timedelta(days=self.days - 1)
        return f"Appointments · week of {self.first_day:%d %b} – {last:%d %b %Y}"

    @property
    def previous(self) -> date:
        return self.day - timedelta(days=self.days)

    @property
    def next(self) -> date:
        return self.day + timedelta(days=self.days)

    @property
    def hour_marks(self) -> list[tuple[int, int]]:
        return [(hour, (hour - self.first_hour) * 60 * PIXELS_PER_MINUTE) for hour in self.hours]


def calendar_for(*, view: str | None = None, day: str | date | None = None, staff: str | None = None) -> Calendar:
    """The calendar of ``day`` (ISO date; default today), as ``view`` (``day`` or ``week``),
    for every staff member or only ``staff`` (a user id). Bad parameters fall back to defaults."""
    view = WEEK if view == WEEK else DAY
    day = _parse_day(day)
    first_day = day - timedelta(days=day.weekday()) if view == WEEK else day
    days = 7 if view == WEEK else 1
    staff_choices = list(User.all_objects.filter(status="ON").order_by("name", "surname"))
    chosen = next((user for user in staff_choices if str(user.pk) == str(staff)), None)
    bookings = _bookings(first_day, days, chosen)
    first_hour, last_hour = _hours(bookings)
    columns = _columns(view, first_day, days, chosen, staff_choices, bookings)
    for column, column_bookings in columns:
        column.blocks = _blocks(column_bookings, first_hour)
    return Calendar(
        view=view,
        day=day,
        first_day=first_day,
        days=days,
        staff=chosen,
        staff_choices=staff_choices,
        columns=[column for column, _ in columns],
        hours=list(range(first_hour, last_hour)),
        first_hour=first_hour,
        height=(last_hour - first_hour) * 60 * PIXELS_PER_MINUTE,
    )


def _parse_day(value) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return timezone.localdate()


def _bookings(first_day: date, days: int, staff: User | None) -> list[Booking]:
    start, end = day_bounds(first_day, days=days)
    bookings = Booking.objects.filter(start__lt=end, end__gt=start).select_related("client", "staff")
    if staff is not None:
        bookings = bookings.filter(staff=staff)
    return list(bookings.order_by("start", "pk"))


def _hours(bookings: list[Booking]) -> tuple[int, int]:
    first, last = OPENING_HOUR, CLOSING_HOUR
    for booking in bookings:
        start, end = timezone.localtime(booking.start), timezone.localtime(booking.end)
        first = min(first, start.hour)
        ends_at = end.hour + (1 if end.minute else 0) if end.date() == start.date() else 24
        last = max(last, ends_at)
    return first, min(last, 24)


def _columns(view, first_day, days, staff, staff_choices, bookings):
    today = timezone.localdate()
    if view == WEEK:
        by_day = {first_day + timedelta(days=n): [] for n in range(days)}
        for booking in bookings:
            by_day.setdefault(timezone.localtime(booking.start).date(), []).append(booking)
        return [
            (Column(title=f"{day:%a %d}", day=day, staff=staff, is_today=day == today), by_day[day])
            for day in sorted(by_day)
            if day in by_day and first_day <= day < first_day + timedelta(days=days)
        ]
    people = [staff] if staff is not None else list(staff_choices)
    people += [b.staff for b in bookings if b.staff is not None and b.staff not in people]
    columns = [
        (Column(title=person.get_full_name(), day=first_day, staff=person, is_today=first_day == today), [])
        for person in people
    ]
    by_staff = {column.staff.pk: column_bookings for column, column_bookings in columns}
    unassigned = []
    for booking in bookings:
        by_staff.get(booking.staff_id, unassigned).append(booking)
    if unassigned:
        columns.append((Column(title="Unassigned", day=first_day, is_today=first_day == today), unassigned))
    return columns


def _blocks(bookings: list[Booking], first_hour: int) -> list[Block]:
    """Place each booking at its time; bookings that overlap (a cancelled one and its
    replacement) share the column's width side by side."""
    blocks, lane_ends = [], []
    for booking in bookings:
        start, end = timezone.localtime(booking.start), timezone.localtime(booking.end)
        day_start = datetime.combine(start.date(), datetime.min.time(), tzinfo=start.tzinfo)
        minutes_from = (start - day_start).total_seconds() / 60 - first_hour * 60
        minutes = (end - start).total_seconds() / 60
        lane = next((n for n, lane_end in enumerate(lane_ends) if lane_end <= booking.start), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(booking.end)
        lane_ends[lane] = booking.end
        top = max(int(minutes_from * PIXELS_PER_MINUTE), 0)
        blocks.append(Block(booking=booking, top=top, height=max(int(minutes * PIXELS_PER_MINUTE), 18), lane=lane))
    for block in blocks:
        block.lanes = max(len(lane_ends), 1)
    return blocks
