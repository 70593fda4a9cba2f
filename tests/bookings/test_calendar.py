"""The appointment book's calendar in the admin: its page, the events and columns it reads, and
the booking, moving and resizing it sends, each through the booking services and per role."""

from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from audit.models import AuditEntry
from bookings.calendar import STATUS_COLOURS, UNASSIGNED
from bookings.models import Booking, BookingItem, BookingStatus
from crm.models import Status
from tests.factories import BookingFactory, BookingItemFactory, ClientFactory, ServiceFactory, UserFactory
from tests.helpers import admin_url

pytestmark = pytest.mark.django_db

CALENDAR = "admin:bookings_booking_calendar"
EVENTS = "admin:bookings_booking_calendar_events"
RESOURCES = "admin:bookings_booking_calendar_resources"
BOOK = "admin:bookings_booking_calendar_book"
DAY = date(2030, 3, 13)  # a Wednesday
DAY_RANGE = {"start": "2030-03-13T00:00:00", "end": "2030-03-14T00:00:00"}


def _at(day, hour, minute=0):
    return timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=hour, minutes=minute)


def _book(staff, day, hour, minutes=60, **extra):
    return BookingFactory(staff=staff, start=_at(day, hour), end=_at(day, hour) + timedelta(minutes=minutes), **extra)


def _move_url(booking):
    return reverse("admin:bookings_booking_calendar_move", args=[booking.pk])


def _events(browser, **params):
    response = browser.get(reverse(EVENTS), {**DAY_RANGE, **params})
    assert response.status_code == 200, response.content
    return response.json()


# --- the page ---------------------------------------------------------------------------------


def test_the_page_loads_the_vendored_calendar_and_its_options(staff_browser, staff_user):
    ServiceFactory(name="Manicura", duration_minutes=30)

    response = staff_browser.get(reverse(CALENDAR), {"date": "2030-03-13"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "bookings/vendor/event-calendar-5.10.1/event-calendar.min.js" in html
    assert "bookings/calendar.js" in html
    options = response.context["options"]
    assert options["date"] == "2030-03-13" and options["view"] == "day"
    assert options["staff"] == str(staff_user.pk)  # a staff member's week opens on their own diary
    assert [s["name"] for s in response.context["services"]] == ["Manicura"]


def test_the_page_shows_a_legend_of_every_status_in_the_users_language(staff_browser, staff_user):
    staff_user.language = "es"
    staff_user.save(update_fields=["language"])

    response = staff_browser.get(reverse(CALENDAR))

    html = response.content.decode()
    assert response["Content-Language"] == "es"
    assert response.context["options"]["locale"] == "es"
    for label in ("Pendiente", "Confirmada", "Completada", "Cancelada", "No acudió"):
        assert label in html
    assert "Calendario de citas" in html


def test_the_changelist_links_to_the_calendar(staff_browser):
    html = staff_browser.get(admin_url(Booking, "changelist")).content.decode()
    assert f'href="{reverse(CALENDAR)}"' in html


# --- who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [CALENDAR, EVENTS, RESOURCES])
def test_an_anonymous_visitor_is_sent_to_the_login(anonymous_browser, name):
    response = anonymous_browser.get(reverse(name), DAY_RANGE)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_user_switched_off_after_logging_in_gets_no_data(staff_browser, staff_user):
    _book(staff_user, DAY, 10)
    staff_user.status = Status.OFF
    staff_user.save()

    response = staff_browser.get(reverse(EVENTS), DAY_RANGE)

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_account_without_the_bookings_permissions_is_refused(staff_browser, staff_user):
    _book(staff_user, DAY, 10)
    staff_user.groups.clear()
    staff_user.user_permissions.clear()

    for name in (CALENDAR, EVENTS, RESOURCES):
        assert staff_browser.get(reverse(name), DAY_RANGE).status_code == 403, name
    assert staff_browser.post(reverse(BOOK), {}).status_code == 403


@pytest.mark.parametrize("who", ["admin", "manager", "staff"])
def test_every_role_sees_and_moves_bookings(who, request, staff_user):
    browser = request.getfixturevalue(f"{who}_browser")
    booking = _book(staff_user, DAY, 10)

    assert [e["id"] for e in _events(browser)] == [str(booking.pk)]
    response = browser.post(_move_url(booking), {"start": "2030-03-13T11:00:00", "end": "2030-03-13T12:00:00"})

    assert response.status_code == 200, response.content
    booking.refresh_from_db()
    assert booking.start == _at(DAY, 11)


# --- the events and columns it reads --------------------------------------------------------------


def test_events_carry_the_salons_wall_clock_time_column_status_colour_and_link(staff_browser, staff_user):
    booking = _book(staff_user, DAY, 10, minutes=90, client=ClientFactory(name="Lucía", surname="Mora"))
    BookingItemFactory(booking=booking, name="Manicura", duration_minutes=90)
    _book(staff_user, DAY + timedelta(days=1), 10)

    [event] = _events(staff_browser)

    assert event["start"] == "2030-03-13T10:00:00" and event["end"] == "2030-03-13T11:30:00"
    assert event["resourceId"] == str(staff_user.pk)
    assert event["title"] == "Lucía Mora · Manicura"
    assert event["backgroundColor"] == STATUS_COLOURS[BookingStatus.PENDING][0]
    assert event["extendedProps"]["url"] == admin_url(Booking, "change", booking.pk)
    assert event["editable"] is True


def test_a_closed_booking_cannot_be_dragged(staff_browser, staff_user):
    _book(staff_user, DAY, 10, status=BookingStatus.COMPLETED)
    assert _events(staff_browser)[0]["editable"] is False


def test_the_week_of_one_staff_member(staff_browser, staff_user):
    mine = _book(staff_user, DAY, 10)
    _book(UserFactory(), DAY, 10)

    events = _events(staff_browser, start="2030-03-11T00:00:00", end="2030-03-18T00:00:00", staff=staff_user.pk)

    assert [e["id"] for e in events] == [str(mine.pk)]


def test_the_columns_are_the_bookable_staff_and_unassigned_only_when_needed(staff_browser, staff_user):
    departed = UserFactory(name="Omar", status=Status.OFF)
    columns = staff_browser.get(reverse(RESOURCES), DAY_RANGE).json()
    assert UNASSIGNED not in [c["id"] for c in columns]
    assert str(departed.pk) not in [c["id"] for c in columns]
    assert str(staff_user.pk) in [c["id"] for c in columns]

    booking = _book(departed, DAY, 10)

    columns = staff_browser.get(reverse(RESOURCES), DAY_RANGE).json()
    assert columns[-1] == {"id": UNASSIGNED, "title": "Unassigned"}
    assert _events(staff_browser)[0]["resourceId"] == UNASSIGNED == _events(staff_browser)[0]["resourceId"]
    assert booking.pk


def test_the_events_feed_costs_the_same_queries_for_a_busy_week_as_for_a_quiet_one(staff_browser, staff_user):
    week = {"start": "2030-03-11T00:00:00", "end": "2030-03-18T00:00:00"}
    _book(staff_user, DAY, 10)
    staff_browser.get(reverse(EVENTS), week)

    with CaptureQueriesContext(connection) as quiet:
        staff_browser.get(reverse(EVENTS), week)
    for n in range(15):
        booking = _book(UserFactory(), DAY + timedelta(days=n % 7 - 2), 9 + n % 8)
        BookingItemFactory(booking=booking)
    with CaptureQueriesContext(connection) as busy:
        response = staff_browser.get(reverse(EVENTS), week)

    assert len(response.json()) == 16
    # session, user, permissions ×2 (view, change), bookings, their services, the bookable staff
    assert len(busy) == len(quiet) == 7


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"start": "2030-03-13T00:00:00"},
        {"start": "yesterday", "end": "2030-03-14T00:00:00"},
        {"start": "2030-03-14T00:00:00", "end": "2030-03-13T00:00:00"},
        {"start": "2030-01-01T00:00:00", "end": "2030-06-01T00:00:00"},
        {**DAY_RANGE, "staff": "999999"},
        {**DAY_RANGE, "staff": "not-a-number"},
    ],
)
@pytest.mark.parametrize("name", [EVENTS, RESOURCES])
def test_a_bad_range_is_a_400_with_a_message(staff_browser, name, params):
    response = staff_browser.get(reverse(name), params)
    assert response.status_code == 400
    assert response.json()["error"]


# --- booking from the calendar ----------------------------------------------------------------


def test_booking_an_empty_slot_takes_its_length_from_the_services(staff_browser, staff_user):
    client = ClientFactory()
    manicure, pedicure = ServiceFactory(duration_minutes=30), ServiceFactory(duration_minutes=45)

    response = staff_browser.post(
        reverse(BOOK),
        {"client": client.pk, "staff": staff_user.pk, "start": "2030-03-13T10:00:00",
         "services": [manicure.pk, pedicure.pk]},
    )  # fmt: skip

    assert response.status_code == 201, response.content
    booking = Booking.objects.get()
    assert (booking.client, booking.staff, booking.start, booking.end) == (client, staff_user, _at(DAY, 10),
                                                                           _at(DAY, 11, 15))  # fmt: skip
    assert [item.name for item in booking.items.order_by("pk")] == [manicure.name, pedicure.name]
    assert response.json()["event"]["end"] == "2030-03-13T11:15:00"


def test_booking_without_services_needs_the_end(staff_browser, staff_user):
    data = {"client": ClientFactory().pk, "staff": staff_user.pk, "start": "2030-03-13T10:00:00"}

    refused = staff_browser.post(reverse(BOOK), data)
    booked = staff_browser.post(reverse(BOOK), {**data, "end": "2030-03-13T10:30:00"})

    assert refused.status_code == 400 and "service" in refused.json()["error"]
    assert booked.status_code == 201 and Booking.objects.get().end == _at(DAY, 10, 30)


@pytest.mark.parametrize(
    "bad",
    [
        {"client": ""},
        {"client": "999999"},
        {"client": "x"},
        {"staff": "999999"},
        {"start": "tomorrow at ten"},
        {"start": ""},
        {"services": ["999999"]},
        {"services": ["x"]},
    ],
)
def test_a_bad_booking_is_a_400_with_a_message_and_writes_nothing(staff_browser, staff_user, bad):
    data = {"client": ClientFactory().pk, "staff": staff_user.pk, "start": "2030-03-13T10:00:00",
            "services": [ServiceFactory().pk], **bad}  # fmt: skip

    response = staff_browser.post(reverse(BOOK), data)

    assert response.status_code == 400
    assert response.json()["error"]
    assert not Booking.objects.exists()


def test_booking_over_another_booking_is_refused_in_spanish_and_writes_nothing(staff_browser, staff_user):
    staff_user.language = "es"
    staff_user.save(update_fields=["language"])
    _book(staff_user, DAY, 10)

    response = staff_browser.post(
        reverse(BOOK), {"client": ClientFactory().pk, "staff": staff_user.pk, "start": "2030-03-13T10:30:00",
                        "end": "2030-03-13T11:30:00"},
    )  # fmt: skip

    assert response.status_code == 400
    assert response.json()["error"] == "Sara ya tiene una cita de 10:00 a 11:00 el 13/03/2030."
    assert Booking.objects.count() == 1


def test_booking_needs_the_add_permission_and_a_post(staff_browser, staff_user):
    assert staff_browser.get(reverse(BOOK)).status_code == 405
    staff_user.groups.clear()
    response = staff_browser.post(reverse(BOOK), {"client": ClientFactory().pk, "start": "2030-03-13T10:00:00"})
    assert response.status_code == 403 and not Booking.objects.exists()


# --- moving and resizing --------------------------------------------------------------------------


def test_dragging_to_another_column_and_time_moves_the_booking_and_audits_it(staff_browser, staff_user):
    lucia = UserFactory(name="Lucía")
    booking = _book(staff_user, DAY, 10)

    response = staff_browser.post(
        _move_url(booking),
        {"start": "2030-03-13T12:00:00", "end": "2030-03-13T13:00:00", "staff": lucia.pk, "staff_changed": "1"},
    )

    assert response.status_code == 200, response.content
    booking.refresh_from_db()
    assert (booking.staff, booking.start, booking.end) == (lucia, _at(DAY, 12), _at(DAY, 13))
    assert response.json()["event"]["resourceId"] == str(lucia.pk)
    entry = AuditEntry.objects.get(action="bookings.booking.rescheduled")
    assert entry.actor == staff_user


def test_resizing_a_booking_with_services_stretches_its_last_service(staff_browser, staff_user):
    booking = _book(staff_user, DAY, 10, minutes=75)
    first = BookingItemFactory(booking=booking, duration_minutes=30)
    last = BookingItemFactory(booking=booking, duration_minutes=45)

    response = staff_browser.post(_move_url(booking), {"start": "2030-03-13T10:00:00", "end": "2030-03-13T11:30:00"})

    assert response.status_code == 200, response.content
    booking.refresh_from_db()
    assert booking.end == _at(DAY, 11, 30)
    assert [i.duration_minutes for i in BookingItem.objects.filter(pk__in=[first.pk, last.pk]).order_by("pk")] == [
        30,
        60,
    ]


def test_shrinking_a_service_to_nothing_is_refused(staff_browser, staff_user):
    booking = _book(staff_user, DAY, 10, minutes=60)
    BookingItemFactory(booking=booking, duration_minutes=30)
    BookingItemFactory(booking=booking, duration_minutes=30)

    response = staff_browser.post(_move_url(booking), {"start": "2030-03-13T10:00:00", "end": "2030-03-13T10:15:00"})

    assert response.status_code == 400 and response.json()["error"]
    booking.refresh_from_db()
    assert booking.end == _at(DAY, 11)


def test_a_move_onto_another_booking_is_refused_and_writes_nothing(staff_browser, staff_user):
    _book(staff_user, DAY, 12)
    booking = _book(staff_user, DAY, 10)
    before = (Booking.history.count(), AuditEntry.objects.count(), BookingItem.objects.count())

    with translation.override("en"):
        response = staff_browser.post(
            _move_url(booking), {"start": "2030-03-13T11:30:00", "end": "2030-03-13T12:30:00"}
        )

    assert response.status_code == 400
    assert response.json()["error"] == "Sara already has a booking from 12:00 to 13:00 on 03/13/2030."
    booking.refresh_from_db()
    assert (booking.start, booking.end) == (_at(DAY, 10), _at(DAY, 11))
    assert (Booking.history.count(), AuditEntry.objects.count(), BookingItem.objects.count()) == before


def test_a_closed_booking_cannot_be_moved(staff_browser, staff_user):
    booking = _book(staff_user, DAY, 10, status=BookingStatus.CANCELLED)

    response = staff_browser.post(_move_url(booking), {"start": "2030-03-13T11:00:00", "end": "2030-03-13T12:00:00"})

    assert response.status_code == 400 and "closed" in response.json()["error"]


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"start": "2030-03-13T11:00:00"},
        {"start": "2030-03-13T11:00:00", "end": "2030-03-13T10:00:00"},
        {"start": "soon", "end": "2030-03-13T12:00:00"},
        {"start": "2030-03-13T11:00:00", "end": "2030-03-13T12:00:00", "staff": "999999", "staff_changed": "1"},
    ],
)
def test_a_bad_move_is_a_400_with_a_message(staff_browser, staff_user, bad):
    booking = _book(staff_user, DAY, 10)

    response = staff_browser.post(_move_url(booking), bad)

    assert response.status_code == 400 and response.json()["error"]
    booking.refresh_from_db()
    assert booking.start == _at(DAY, 10)


def test_moving_a_booking_that_does_not_exist_is_a_404(staff_browser):
    response = staff_browser.post(reverse("admin:bookings_booking_calendar_move", args=[999999]), {})
    assert response.status_code == 404 and response.json()["error"]


def test_moving_needs_the_change_permission_and_a_post(staff_browser, staff_user):
    booking = _book(staff_user, DAY, 10)
    assert staff_browser.get(_move_url(booking)).status_code == 405
    staff_user.groups.clear()
    response = staff_browser.post(_move_url(booking), {"start": "2030-03-13T11:00:00", "end": "2030-03-13T12:00:00"})
    assert response.status_code == 403
    booking.refresh_from_db()
    assert booking.start == _at(DAY, 10)
