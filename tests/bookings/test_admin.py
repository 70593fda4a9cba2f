"""The appointment book in the admin."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from tests.factories import BookingFactory, BookingItemFactory, ClientFactory, ServiceFactory
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


def test_the_admin_refuses_an_overlapping_booking_for_the_same_staff_member(staff_browser, staff_user):
    BookingFactory(staff=staff_user, start=_tomorrow_at(10), end=_tomorrow_at(11))

    response = _post_booking(
        staff_browser, client=ClientFactory(), staff=staff_user, start=_tomorrow_at(10) + timedelta(minutes=30)
    )

    assert response.status_code == 200
    assert Booking.objects.count() == 1


def _post_booking_with_services(browser, *, client, staff, start, services, minutes=15):
    page = browser.get(admin_url(Booking, "add"))
    local_start, local_end = timezone.localtime(start), timezone.localtime(start + timedelta(minutes=minutes))
    data = {
        "client": client.pk,
        "staff": staff.pk,
        "start_0": local_start.strftime("%Y-%m-%d"),
        "start_1": local_start.strftime("%H:%M:%S"),
        "end_0": local_end.strftime("%Y-%m-%d"),
        "end_1": local_end.strftime("%H:%M:%S"),
        "status": BookingStatus.PENDING,
        **inline_management_data(page),
        "items-TOTAL_FORMS": str(len(services)),
    }
    for n, service in enumerate(services):
        data[f"items-{n}-service"] = service.pk
    return browser.post(admin_url(Booking, "add"), data)


def test_the_admin_books_services_and_the_end_follows_their_durations(staff_browser, staff_user):
    facial, nails = ServiceFactory(duration_minutes=60), ServiceFactory(duration_minutes=30)

    response = _post_booking_with_services(
        staff_browser, client=ClientFactory(), staff=staff_user, start=_tomorrow_at(10), services=[facial, nails]
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    booking = Booking.objects.get()
    assert booking.end == _tomorrow_at(11) + timedelta(minutes=30)
    assert sorted(booking.items.values_list("name", "duration_minutes")) == sorted(
        [(facial.name, 60), (nails.name, 30)]
    )


def test_the_admin_refuses_a_booking_whose_services_run_into_the_next_one(staff_browser, staff_user):
    BookingFactory(staff=staff_user, start=_tomorrow_at(11), end=_tomorrow_at(12))

    response = _post_booking_with_services(
        staff_browser,
        client=ClientFactory(),
        staff=staff_user,
        start=_tomorrow_at(10),
        services=[ServiceFactory(duration_minutes=90)],
    )

    assert response.status_code == 200
    assert "already has a booking from 11:00 to 12:00" in response.content.decode()
    assert Booking.objects.count() == 1


def test_the_admin_shows_why_an_overlapping_booking_was_refused(staff_browser, staff_user):
    BookingFactory(staff=staff_user, start=_tomorrow_at(10), end=_tomorrow_at(11))
    response = _post_booking(
        staff_browser, client=ClientFactory(), staff=staff_user, start=_tomorrow_at(10) + timedelta(minutes=30)
    )
    assert "Sara already has a booking from 10:00 to 11:00" in response.content.decode()


def test_the_admin_refuses_to_move_a_confirmed_booking_back_to_pending(staff_browser):
    booking = BookingFactory(status=BookingStatus.CONFIRMED)
    page = staff_browser.get(admin_url(Booking, "change", booking.pk))
    start, end = timezone.localtime(booking.start), timezone.localtime(booking.end)
    data = {
        "client": booking.client_id,
        "staff": booking.staff_id,
        "start_0": start.strftime("%Y-%m-%d"),
        "start_1": start.strftime("%H:%M:%S"),
        "end_0": end.strftime("%Y-%m-%d"),
        "end_1": end.strftime("%H:%M:%S"),
        "status": BookingStatus.PENDING,
        **inline_management_data(page),
    }

    response = staff_browser.post(admin_url(Booking, "change", booking.pk), data)

    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_a_completed_booking_opens_read_only_and_refuses_a_post(staff_browser):
    booking = BookingFactory(status=BookingStatus.COMPLETED)

    page = staff_browser.get(admin_url(Booking, "change", booking.pk))
    post = staff_browser.post(admin_url(Booking, "change", booking.pk), {"notes": "edited"})

    assert page.status_code == 200 and page.context["has_change_permission"] is False
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    booking.refresh_from_db()
    assert booking.notes is None


def test_the_status_actions_move_bookings_and_report_the_ones_they_cannot(staff_browser):
    pending, completed = BookingFactory(), BookingFactory(status=BookingStatus.COMPLETED)

    response = staff_browser.post(
        admin_url(Booking, "changelist"),
        {"action": "confirm_selected", "_selected_action": [pending.pk, completed.pk]},
        follow=True,
    )

    pending.refresh_from_db(), completed.refresh_from_db()
    assert (pending.status, completed.status) == (BookingStatus.CONFIRMED, BookingStatus.COMPLETED)
    notices = [str(m) for m in response.context["messages"]]
    assert "1 booking is now confirmed." in notices
    assert any("closed" in notice for notice in notices)


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("complete_selected", BookingStatus.COMPLETED),
        ("cancel_selected", BookingStatus.CANCELLED),
    ],
)
def test_each_status_action_sets_its_status(staff_browser, action, status):
    booking = BookingFactory()
    staff_browser.post(admin_url(Booking, "changelist"), {"action": action, "_selected_action": [booking.pk]})
    booking.refresh_from_db()
    assert booking.status == status


def test_moving_a_booking_in_the_admin_keeps_its_services_and_their_length(staff_browser):
    item = BookingItemFactory(duration_minutes=45, booking__start=_tomorrow_at(10), booking__end=_tomorrow_at(11))
    booking = item.booking
    page = staff_browser.get(admin_url(Booking, "change", booking.pk))
    new_start = timezone.localtime(_tomorrow_at(15))
    data = {
        "client": booking.client_id,
        "staff": booking.staff_id,
        "start_0": new_start.strftime("%Y-%m-%d"),
        "start_1": new_start.strftime("%H:%M:%S"),
        "end_0": new_start.strftime("%Y-%m-%d"),
        "end_1": "18:00:00",
        "status": BookingStatus.PENDING,
        **inline_management_data(page),
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "1",
        "items-0-id": item.pk,
        "items-0-booking": booking.pk,
        "items-0-service": item.service_id,
        "items-0-name": item.name,
        "items-0-duration_minutes": "45",
    }

    response = staff_browser.post(admin_url(Booking, "change", booking.pk), data)

    assert response.status_code == 302
    booking.refresh_from_db()
    assert (booking.start, booking.end) == (_tomorrow_at(15), _tomorrow_at(15) + timedelta(minutes=45))
    assert list(booking.items.values_list("pk", flat=True)) == [item.pk]
