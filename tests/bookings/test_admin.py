"""The appointment book in the admin."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from tests.factories import BookingFactory, ClientFactory
from tests.helpers import admin_url, inline_management_data

pytestmark = pytest.mark.django_db


def _post_booking(browser, *, client, staff, start, minutes=60):
    page = browser.get(admin_url(Booking, "add"))
    local_start, local_end = timezone.localtime(start), timezone.localtime(start + timedelta(minutes=minutes))
    data = {
        "client": client.pk,
        "staff": staff.pk,
        "start_0": local_start.strftime("%Y-%m-%d"),
        "start_1": local_start.strftime("%H:%M:%S"),
        "end_0": local_end.strftime("%Y-%m-%d"),
        "end_1": local_end.strftime("%H:%M:%S"),
        "status": BookingStatus.CONFIRMED,
        **inline_management_data(page),
    }
    return browser.post(admin_url(Booking, "add"), data)


def _tomorrow_at(hour):
    tomorrow = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(timezone.datetime.combine(tomorrow, timezone.datetime.min.time())) + timedelta(
        hours=hour
    )


def test_staff_book_an_appointment_in_the_admin(staff_browser, staff_user):
    client = ClientFactory()
    response = _post_booking(staff_browser, client=client, staff=staff_user, start=_tomorrow_at(10))
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert (booking.client, booking.staff, booking.duration_minutes) == (client, staff_user, 60)


def test_the_admin_refuses_a_booking_that_ends_before_it_starts(staff_browser, staff_user):
    response = _post_booking(
        staff_browser, client=ClientFactory(), staff=staff_user, start=_tomorrow_at(10), minutes=-30
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Booking.objects.exists()


@pytest.mark.xfail(
    reason="Nothing enforces the domain rule 'the same staff member cannot hold two overlapping active "
    "bookings' (domain.md): there is no bookings/services.py and BookingAdmin saves the overlap",
    raises=AssertionError,
    strict=True,
)
def test_the_admin_refuses_an_overlapping_booking_for_the_same_staff_member(staff_browser, staff_user):
    BookingFactory(staff=staff_user, start=_tomorrow_at(10), end=_tomorrow_at(11))

    response = _post_booking(
        staff_browser, client=ClientFactory(), staff=staff_user, start=_tomorrow_at(10) + timedelta(minutes=30)
    )

    assert response.status_code == 200
    assert Booking.objects.count() == 1
