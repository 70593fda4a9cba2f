"""The REST API of the appointment book."""

from datetime import timedelta

from rest_framework.test import APIClient

from bookings.models import Booking
from tests.factories import BookingFactory, BookingItemFactory, ClientFactory, ServiceFactory, _tomorrow_at_ten
from tests.helpers import api_as


def test_a_booking_lists_its_services(staff_user):
    item = BookingItemFactory()
    for url in ("/api/bookings", "/api/bookings/"):
        row = api_as(staff_user).get(url).json()["results"][0]
        assert row["id"] == item.booking_id and row["items"][0]["service"] == item.service_id


def test_staff_book_services_and_the_end_follows_their_durations(staff_user):
    client, facial, nails = ClientFactory(), ServiceFactory(duration_minutes=60), ServiceFactory(duration_minutes=30)
    start = _tomorrow_at_ten()
    response = api_as(staff_user).post(
        "/api/bookings",
        {
            "client": client.pk,
            "staff": staff_user.pk,
            "start": start.isoformat(),
            "items": [{"service": facial.pk}, {"service": nails.pk, "price": "15.00"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    booking = Booking.objects.get(pk=response.json()["id"])
    assert booking.end == start + timedelta(minutes=90)
    assert [(i.name, i.duration_minutes) for i in booking.items.order_by("pk")] == [(facial.name, 60), (nails.name, 30)]


def test_a_booking_needs_an_end_or_services_and_must_end_after_it_starts(staff_user):
    client, start = ClientFactory(), _tomorrow_at_ten()
    api = api_as(staff_user)
    assert (
        api.post("/api/bookings", {"client": client.pk, "start": start.isoformat()}, format="json").status_code == 400
    )
    backwards = {"client": client.pk, "start": start.isoformat(), "end": (start - timedelta(hours=1)).isoformat()}
    assert api.post("/api/bookings", backwards, format="json").status_code == 400


def test_the_same_staff_member_cannot_be_booked_twice_at_once(staff_user):
    taken = BookingFactory(staff=staff_user)
    payload = {
        "client": ClientFactory().pk,
        "staff": staff_user.pk,
        "start": (taken.start + timedelta(minutes=15)).isoformat(),
        "end": (taken.end + timedelta(minutes=15)).isoformat(),
    }
    api = api_as(staff_user)
    response = api.post("/api/bookings", payload, format="json")
    assert response.status_code == 400 and "start" in response.json()
    assert api.post("/api/bookings", {**payload, "status": "CANCELLED"}, format="json").status_code == 201
    # Moving the booking within its own slot is not a clash with itself.
    moved = api.patch(
        f"/api/bookings/{taken.pk}", {"end": (taken.end + timedelta(minutes=5)).isoformat()}, format="json"
    )
    assert moved.status_code == 200


def test_updating_items_replaces_them(staff_user, manager_user):
    item = BookingItemFactory()
    other = ServiceFactory()
    api = api_as(staff_user)
    response = api.patch(f"/api/bookings/{item.booking_id}", {"items": [{"service": other.pk}]}, format="json")
    assert response.status_code == 200
    assert [i["service"] for i in response.json()["items"]] == [other.pk]
    assert api.delete(f"/api/bookings/{item.booking_id}").status_code == 403
    assert api_as(manager_user).delete(f"/api/bookings/{item.booking_id}").status_code == 204


def test_bookings_filter_by_status_staff_and_day(staff_user):
    mine = BookingFactory(staff=staff_user)
    BookingFactory(status="CANCELLED", start=mine.start + timedelta(days=3), end=mine.end + timedelta(days=3))
    api = api_as(staff_user)
    assert [b["id"] for b in api.get(f"/api/bookings?staff={staff_user.pk}").json()["results"]] == [mine.pk]
    assert api.get("/api/bookings?status=CANCELLED").json()["count"] == 1
    day_after = (mine.start + timedelta(days=1)).isoformat()
    assert api.get("/api/bookings", {"start__gte": day_after}).json()["count"] == 1
    assert api.get("/api/bookings?ordering=start").json()["results"][0]["id"] == mine.pk


def test_a_booking_with_a_sale_is_deleted_and_the_sale_survives(manager_user):
    from tests.factories import CartFactory

    booking = BookingFactory()
    cart = CartFactory(booking=booking)
    assert api_as(manager_user).delete(f"/api/bookings/{booking.pk}").status_code == 204
    cart.refresh_from_db()
    assert cart.booking is None


def test_anonymous_callers_get_401(db):
    assert APIClient().get("/api/bookings").status_code == 401


def test_the_api_refuses_an_overlap_made_by_moving_a_booking(staff_user):
    staff = staff_user
    taken = BookingFactory(staff=staff)
    later = BookingFactory(staff=staff, start=taken.start + timedelta(hours=3), end=taken.end + timedelta(hours=3))
    response = api_as(staff_user).patch(
        f"/api/bookings/{later.pk}", {"start": taken.start.isoformat(), "end": taken.end.isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert "already has a booking" in response.json()["start"][0]
    later.refresh_from_db()
    assert later.start == taken.start + timedelta(hours=3)


def test_staff_confirm_and_complete_a_booking_through_the_api(staff_user):
    booking = BookingFactory()
    api = api_as(staff_user)

    confirmed = api.post(f"/api/bookings/{booking.pk}/confirm")
    completed = api.post(f"/api/bookings/{booking.pk}/complete")

    assert (confirmed.status_code, confirmed.json()["id"], confirmed.json()["status"]) == (200, booking.pk, "CONFIRMED")
    assert completed.json()["status"] == "COMPLETED"
    booking.refresh_from_db()
    assert booking.status == "COMPLETED"


def test_the_api_refuses_to_edit_or_reopen_a_completed_booking(staff_user):
    booking = BookingFactory(status="COMPLETED")
    api = api_as(staff_user)

    edited = api.patch(f"/api/bookings/{booking.pk}", {"notes": "changed"}, format="json")
    reopened = api.patch(f"/api/bookings/{booking.pk}", {"status": "PENDING"}, format="json")
    cancelled = api.post(f"/api/bookings/{booking.pk}/cancel")

    assert [r.status_code for r in (edited, reopened, cancelled)] == [400, 400, 400]
    assert "closed" in cancelled.json()["detail"]
    booking.refresh_from_db()
    assert (booking.status, booking.notes) == ("COMPLETED", None)


def test_a_no_show_is_refused_before_the_appointment_and_recorded_after(staff_user):
    from django.utils import timezone

    future = BookingFactory()
    past = BookingFactory(start=timezone.now() - timedelta(hours=2), end=timezone.now() - timedelta(hours=1))
    api = api_as(staff_user)
    assert api.post(f"/api/bookings/{future.pk}/no-show").status_code == 400
    assert api.post(f"/api/bookings/{past.pk}/no-show").json()["status"] == "NO_SHOW"
