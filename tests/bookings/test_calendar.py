"""The appointment book's calendar page in the admin: a day per staff member, a week per day."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from tests.factories import BookingFactory, ClientFactory, UserFactory
from tests.helpers import admin_url

pytestmark = pytest.mark.django_db

CALENDAR = "admin:bookings_booking_calendar"
DAY = date(2030, 3, 13)  # a Wednesday


def _at(day, hour, minute=0):
    return timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time())) + timedelta(
        hours=hour, minutes=minute
    )


def _book(staff, day, hour, minutes=60, **extra):
    return BookingFactory(staff=staff, start=_at(day, hour), end=_at(day, hour) + timedelta(minutes=minutes), **extra)


def _calendar(browser, **params):
    response = browser.get(reverse(CALENDAR), params)
    assert response.status_code == 200
    return response


def _columns(response):
    return {column.title: [block.booking for block in column.blocks] for column in response.context["calendar"].columns}


def test_the_day_shows_each_staff_members_bookings_in_their_column(staff_browser, staff_user):
    lucia = UserFactory(name="Lucía", surname="Mora")
    sara_morning, sara_afternoon = _book(staff_user, DAY, 10), _book(staff_user, DAY, 16)
    lucia_morning = _book(lucia, DAY, 10)
    _book(lucia, DAY + timedelta(days=1), 10)

    columns = _columns(_calendar(staff_browser, date="2030-03-13"))

    assert columns["Sara"] == [sara_morning, sara_afternoon]
    assert columns["Lucía Mora"] == [lucia_morning]


def test_each_booking_links_to_its_page_and_sits_at_its_time(staff_browser, staff_user):
    booking = _book(staff_user, DAY, 10, minutes=90)

    response = _calendar(staff_browser, date="2030-03-13")

    block = next(b for column in response.context["calendar"].columns for b in column.blocks)
    assert (block.top, block.height) == (2 * 60, 90)  # from 08:00, one pixel a minute
    assert f'href="{admin_url(Booking, "change", booking.pk)}"' in response.content.decode()


def test_bookings_without_a_staff_member_get_a_column_of_their_own(staff_browser):
    unassigned = _book(None, DAY, 12)
    assert _columns(_calendar(staff_browser, date="2030-03-13"))["Unassigned"] == [unassigned]


def test_the_week_shows_seven_days_from_monday_for_one_staff_member(staff_browser, staff_user):
    other = UserFactory()
    monday, sunday = _book(staff_user, DAY - timedelta(days=2), 9), _book(staff_user, DAY + timedelta(days=4), 18)
    _book(other, DAY, 11)
    _book(staff_user, DAY + timedelta(days=5), 10)  # next Monday

    response = _calendar(staff_browser, view="week", date="2030-03-13", staff=staff_user.pk)

    calendar = response.context["calendar"]
    assert [column.day for column in calendar.columns] == [date(2030, 3, 11) + timedelta(days=n) for n in range(7)]
    assert [b.booking for b in calendar.columns[0].blocks] == [monday]
    assert [b.booking for b in calendar.columns[6].blocks] == [sunday]
    assert sum(len(column.blocks) for column in calendar.columns) == 2


def test_overlapping_bookings_in_one_column_share_its_width(staff_browser, staff_user):
    cancelled = _book(staff_user, DAY, 10, status=BookingStatus.CANCELLED)
    replacement = _book(staff_user, DAY, 10)

    blocks = next(c for c in _calendar(staff_browser, date="2030-03-13").context["calendar"].columns if c.blocks).blocks

    assert [(b.booking, b.left_percent, b.width_percent) for b in blocks] == [(cancelled, 0, 50), (replacement, 50, 50)]


def test_previous_and_next_move_by_a_day_or_a_week(staff_browser):
    day = _calendar(staff_browser, date="2030-03-13").content.decode()
    week = _calendar(staff_browser, view="week", date="2030-03-13").content.decode()
    assert "date=2030-03-12" in day and "date=2030-03-14" in day
    assert "date=2030-03-06" in week and "date=2030-03-20" in week


def test_a_bad_date_shows_today(staff_browser):
    assert _calendar(staff_browser, date="not-a-date").context["calendar"].day == timezone.localdate()


def test_client_names_are_escaped_in_the_calendar(staff_browser, staff_user):
    BookingFactory(client=ClientFactory(name="<script>alert(1)</script>"), staff=staff_user, start=_at(DAY, 10))
    html = _calendar(staff_browser, date="2030-03-13").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_the_calendar_costs_the_same_queries_for_a_busy_week_as_for_a_quiet_one(staff_browser, staff_user):
    url = reverse(CALENDAR)
    params = {"view": "week", "date": "2030-03-13"}
    _book(staff_user, DAY, 10)
    staff_browser.get(url, params)

    with CaptureQueriesContext(connection) as quiet:
        staff_browser.get(url, params)
    for n in range(15):
        _book(UserFactory(), DAY + timedelta(days=n % 7 - 2), 9 + n % 8)
    with CaptureQueriesContext(connection) as busy:
        response = staff_browser.get(url, params)

    assert sum(len(column.blocks) for column in response.context["calendar"].columns) == 16
    assert len(busy) == len(quiet) <= 6  # session, user, permissions ×2, staff members, bookings


def test_the_changelist_links_to_the_calendar(staff_browser):
    html = staff_browser.get(admin_url(Booking, "changelist")).content.decode()
    assert f'href="{reverse(CALENDAR)}"' in html


def test_the_calendar_needs_a_login(anonymous_browser):
    assert anonymous_browser.get(reverse(CALENDAR)).status_code == 302
