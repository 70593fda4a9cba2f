"""The appointment book: times are sane and history outlives staff and sales."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from bookings.models import Booking, BookingItem, BookingStatus
from marketing.models import BonusRedemption
from tests.factories import (
    BonusRedemptionFactory,
    BookingFactory,
    BookingItemFactory,
    ClientFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("minutes", [0, -30], ids=["ends when it starts", "ends before it starts"])
def test_it_refuses_a_booking_that_does_not_end_after_it_starts(minutes):
    start = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(client=ClientFactory(), start=start, end=start + timedelta(minutes=minutes))


def test_it_refuses_moving_the_end_before_the_start_later():
    booking = BookingFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=booking.pk).update(end=booking.start - timedelta(minutes=1))


def test_it_refuses_a_booking_item_of_zero_minutes():
    with pytest.raises(IntegrityError), transaction.atomic():
        BookingItem.objects.bulk_create(
            [BookingItem(booking=BookingFactory(), service=ServiceFactory(), name="X", duration_minutes=0)]
        )


def test_a_booking_item_snapshots_the_service_name_and_duration():
    service = ServiceFactory(name="Laser legs", duration_minutes=50)
    item = BookingItem.objects.create(booking=BookingFactory(), service=service, name="", duration_minutes=0)
    service.name = "Laser legs (renamed)"
    service.save()
    item.refresh_from_db()
    assert (item.name, item.duration_minutes) == ("Laser legs", 50)


def test_the_duration_of_a_booking_is_the_sum_of_its_items():
    booking = BookingFactory()
    BookingItemFactory(booking=booking, duration_minutes=30)
    BookingItemFactory(booking=booking, duration_minutes=15)
    assert booking.items_duration() == 45
    assert booking.duration_minutes == 45


def test_deleting_a_staff_member_keeps_their_bookings():
    staff = UserFactory()
    booking = BookingFactory(staff=staff)
    staff.delete()
    booking.refresh_from_db()
    assert booking.staff is None


def test_deleting_a_booking_deletes_its_items_and_keeps_bono_redemptions():
    item = BookingItemFactory()
    redemption = BonusRedemptionFactory(booking=item.booking)
    item.booking.delete()
    assert not BookingItem.objects.filter(pk=item.pk).exists()
    redemption = BonusRedemption.objects.get(pk=redemption.pk)
    assert redemption.booking is None


def test_it_refuses_to_delete_a_service_that_was_booked():
    item = BookingItemFactory()
    with pytest.raises(ProtectedError), transaction.atomic():
        item.service.delete()


def test_on_day_lists_bookings_starting_that_local_day():
    today = timezone.localdate()
    midnight = timezone.make_aware(timezone.datetime.combine(today, timezone.datetime.min.time()))
    early = BookingFactory(start=midnight, end=midnight + timedelta(minutes=30))
    late = BookingFactory(start=midnight + timedelta(hours=23, minutes=30), end=midnight + timedelta(hours=24))
    BookingFactory(start=midnight - timedelta(minutes=30), end=midnight)
    BookingFactory(start=midnight + timedelta(days=1), end=midnight + timedelta(days=1, hours=1))
    assert set(Booking.objects.on_day(today)) == {early, late}


def test_overlapping_finds_active_bookings_of_the_same_staff_member_only():
    staff = UserFactory()
    booking = BookingFactory(staff=staff)
    BookingFactory(staff=staff, start=booking.start, end=booking.end, status=BookingStatus.CANCELLED)
    BookingFactory(start=booking.start, end=booking.end)

    overlapping = Booking.objects.overlapping(
        staff=staff, start=booking.start + timedelta(minutes=10), end=booking.end + timedelta(minutes=10)
    )
    back_to_back = Booking.objects.overlapping(staff=staff, start=booking.end, end=booking.end + timedelta(hours=1))

    assert list(overlapping) == [booking]
    assert not back_to_back.exists()


def test_upcoming_excludes_past_completed_and_cancelled_bookings():
    now = timezone.now()
    upcoming = BookingFactory(start=now + timedelta(hours=1), end=now + timedelta(hours=2))
    BookingFactory(start=now - timedelta(hours=2), end=now - timedelta(hours=1))
    BookingFactory(start=now + timedelta(hours=3), end=now + timedelta(hours=4), status=BookingStatus.CANCELLED)
    BookingFactory(start=now + timedelta(hours=3), end=now + timedelta(hours=4), status=BookingStatus.COMPLETED)
    assert list(Booking.objects.upcoming(now=now)) == [upcoming]
