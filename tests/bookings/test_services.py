"""The appointment book's rules, called as the admin and the API call them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from bookings.models import Booking, BookingError, BookingItem, BookingStatus
from bookings.services import booking_check, booking_create, booking_reschedule, booking_transition, booking_update
from tests.factories import BookingFactory, BookingItemFactory, ClientFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


def _tomorrow_at(hour, minute=0):
    tomorrow = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(timezone.datetime.combine(tomorrow, timezone.datetime.min.time())) + timedelta(
        hours=hour, minutes=minute
    )


def _items(*services):
    return [BookingItem(service=service) for service in services]


def test_a_booking_with_services_lasts_as_long_as_they_do():
    facial, nails = ServiceFactory(duration_minutes=60), ServiceFactory(duration_minutes=25)
    booking = booking_create(
        client=ClientFactory(), staff=UserFactory(), start=_tomorrow_at(10), items=_items(facial, nails)
    )
    assert booking.end == _tomorrow_at(11, 25)
    assert [(i.name, i.duration_minutes) for i in booking.items.order_by("pk")] == [
        (facial.name, 60),
        (nails.name, 25),
    ]


def test_the_services_durations_win_over_an_end_given_with_them():
    booking = booking_create(
        client=ClientFactory(),
        start=_tomorrow_at(10),
        end=_tomorrow_at(18),
        items=_items(ServiceFactory(duration_minutes=30)),
    )
    assert booking.end == _tomorrow_at(10, 30)


def test_a_booking_without_services_needs_an_end_after_its_start():
    with pytest.raises(BookingError, match="end time") as missing:
        booking_create(client=ClientFactory(), start=_tomorrow_at(10))
    with pytest.raises(BookingError, match="end after it starts"):
        booking_create(client=ClientFactory(), start=_tomorrow_at(10), end=_tomorrow_at(9))
    assert missing.value.field == "end"
    assert not Booking.objects.exists()


def test_it_refuses_an_overlapping_booking_for_the_same_staff_member():
    staff = UserFactory(name="Lucía", surname="Mora")
    BookingFactory(staff=staff, start=_tomorrow_at(10), end=_tomorrow_at(11))

    with pytest.raises(BookingError, match="Lucía Mora already has a booking from 10:00 to 11:00") as refused:
        booking_create(client=ClientFactory(), staff=staff, start=_tomorrow_at(10, 30), end=_tomorrow_at(11, 30))

    assert refused.value.field == "start"
    assert Booking.objects.count() == 1


def test_it_refuses_an_overlap_made_by_the_services_length():
    staff = UserFactory()
    BookingFactory(staff=staff, start=_tomorrow_at(11), end=_tomorrow_at(12))
    with pytest.raises(BookingError):
        booking_create(
            client=ClientFactory(),
            staff=staff,
            start=_tomorrow_at(10),
            end=_tomorrow_at(11),
            items=_items(ServiceFactory(duration_minutes=90)),
        )
    assert Booking.objects.count() == 1


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.NO_SHOW])
def test_cancelled_and_no_show_bookings_free_the_slot(status):
    staff = UserFactory()
    BookingFactory(staff=staff, start=_tomorrow_at(10), end=_tomorrow_at(11), status=status)
    booking = booking_create(client=ClientFactory(), staff=staff, start=_tomorrow_at(10), end=_tomorrow_at(11))
    assert booking.pk


def test_back_to_back_bookings_and_other_staff_members_do_not_clash():
    staff = UserFactory()
    BookingFactory(staff=staff, start=_tomorrow_at(10), end=_tomorrow_at(11))
    after = booking_create(client=ClientFactory(), staff=staff, start=_tomorrow_at(11), end=_tomorrow_at(12))
    other = booking_create(client=ClientFactory(), staff=UserFactory(), start=_tomorrow_at(10), end=_tomorrow_at(11))
    assert after.pk and other.pk


def test_moving_a_booking_onto_another_one_is_refused_and_changes_nothing():
    staff = UserFactory()
    BookingFactory(staff=staff, start=_tomorrow_at(10), end=_tomorrow_at(11))
    later = BookingFactory(staff=staff, start=_tomorrow_at(14), end=_tomorrow_at(15))

    with pytest.raises(BookingError):
        booking_update(booking=later, start=_tomorrow_at(10, 30), end=_tomorrow_at(11, 30))

    later.refresh_from_db()
    assert later.start == _tomorrow_at(14)


def test_a_booking_may_move_within_its_own_slot():
    booking = BookingFactory(start=_tomorrow_at(10), end=_tomorrow_at(11))
    booking_update(booking=booking, end=_tomorrow_at(11, 15))
    booking.refresh_from_db()
    assert booking.end == _tomorrow_at(11, 15)


def test_replacing_the_services_recomputes_the_end():
    item = BookingItemFactory(duration_minutes=45)
    booking = item.booking
    booking_update(booking=booking, items=_items(ServiceFactory(duration_minutes=20)))
    booking.refresh_from_db()
    assert booking.end == booking.start + timedelta(minutes=20)
    assert not BookingItem.objects.filter(pk=item.pk).exists()


def test_moving_a_booking_with_services_keeps_their_length():
    booking = BookingItemFactory(duration_minutes=45).booking
    booking_update(booking=booking, start=_tomorrow_at(16))
    booking.refresh_from_db()
    assert (booking.start, booking.end) == (_tomorrow_at(16), _tomorrow_at(16, 45))


def test_rescheduling_moves_and_stretches_the_last_service_and_is_audited(staff_user):
    booking = BookingFactory(start=_tomorrow_at(10), end=_tomorrow_at(11))
    first, last = (BookingItemFactory(booking=booking, duration_minutes=m) for m in (30, 30))

    booking_reschedule(booking=booking, start=_tomorrow_at(12), end=_tomorrow_at(13, 15), staff=booking.staff,
                       actor=staff_user)  # fmt: skip

    booking.refresh_from_db()
    assert (booking.start, booking.end) == (_tomorrow_at(12), _tomorrow_at(13, 15))
    assert [i.duration_minutes for i in booking.items.order_by("pk")] == [30, 45]
    entry = AuditEntry.objects.get(action="bookings.booking.rescheduled")
    assert (entry.actor, entry.detail["booking_id"]) == (staff_user, booking.pk)


def test_a_refused_reschedule_changes_neither_the_booking_nor_its_services():
    staff = UserFactory(name="Lucía", surname="Mora")
    BookingFactory(staff=staff, start=_tomorrow_at(12), end=_tomorrow_at(13))
    booking = BookingFactory(staff=staff, start=_tomorrow_at(10), end=_tomorrow_at(11))
    BookingItemFactory(booking=booking, duration_minutes=60)

    with pytest.raises(BookingError, match="Lucía Mora already has a booking from 12:00 to 13:00"):
        booking_reschedule(booking=booking, start=_tomorrow_at(10), end=_tomorrow_at(12, 30), staff=staff)

    booking.refresh_from_db()
    assert (booking.start, booking.end) == (_tomorrow_at(10), _tomorrow_at(11))
    assert booking.items.get().duration_minutes == 60
    assert not AuditEntry.objects.filter(action="bookings.booking.rescheduled").exists()


def test_the_check_for_forms_refuses_what_the_write_would_refuse_and_writes_nothing():
    staff = UserFactory()
    BookingFactory(staff=staff, start=_tomorrow_at(10), end=_tomorrow_at(11))
    candidate = Booking(client=ClientFactory(), staff=staff, start=_tomorrow_at(9), end=_tomorrow_at(9, 30))

    assert booking_check(booking=candidate, items=_items(ServiceFactory(duration_minutes=20))) == _tomorrow_at(9, 20)
    with pytest.raises(BookingError):
        booking_check(booking=candidate, items=_items(ServiceFactory(duration_minutes=90)))
    assert Booking.objects.count() == 1


# --- status transitions ----------------------------------------------------------------------


def test_a_booking_is_confirmed_then_completed_and_each_change_is_audited(staff_user):
    booking = BookingFactory()

    assert booking_transition(booking=booking, status=BookingStatus.CONFIRMED, actor=staff_user)
    assert booking_transition(booking=booking, status=BookingStatus.COMPLETED, actor=staff_user)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.COMPLETED
    entries = AuditEntry.objects.filter(target_type="bookings.booking", target_id=str(booking.pk))
    assert sorted(entries.values_list("action", "actor_label")) == [
        ("bookings.booking.completed", staff_user.email),
        ("bookings.booking.confirmed", staff_user.email),
    ]


CLOSED = [BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_SHOW]


@pytest.mark.parametrize(
    ("closed", "wanted"),
    [(closed, wanted) for closed in CLOSED for wanted in [BookingStatus.PENDING, *CLOSED] if wanted != closed],
)
def test_a_closed_booking_never_changes_status_again(closed, wanted):
    booking = BookingFactory(status=closed, start=timezone.now() - timedelta(hours=2), end=timezone.now())
    with pytest.raises(BookingError, match="closed"):
        booking_transition(booking=booking, status=wanted)
    booking.refresh_from_db()
    assert booking.status == closed


def test_a_confirmed_booking_cannot_go_back_to_pending():
    booking = BookingFactory(status=BookingStatus.CONFIRMED)
    with pytest.raises(BookingError, match="confirmed booking cannot become pending"):
        booking_update(booking=booking, status=BookingStatus.PENDING)


def test_a_client_cannot_be_marked_no_show_before_the_appointment_starts():
    booking = BookingFactory(start=_tomorrow_at(10), end=_tomorrow_at(11))
    with pytest.raises(BookingError, match="not started"):
        booking_transition(booking=booking, status=BookingStatus.NO_SHOW)

    past = BookingFactory(start=timezone.now() - timedelta(hours=2), end=timezone.now() - timedelta(hours=1))
    booking_transition(booking=past, status=BookingStatus.NO_SHOW)
    past.refresh_from_db()
    assert past.status == BookingStatus.NO_SHOW


def test_moving_to_the_current_status_changes_nothing_and_is_not_audited():
    booking = BookingFactory(status=BookingStatus.CONFIRMED)
    assert booking_transition(booking=booking, status=BookingStatus.CONFIRMED) is False
    assert not AuditEntry.objects.filter(action__startswith="bookings.").exists()


def test_a_status_change_made_with_an_update_is_audited(manager_user):
    booking = BookingFactory()
    booking_update(booking=booking, status=BookingStatus.CANCELLED, actor=manager_user)
    entry = AuditEntry.objects.get(action="bookings.booking.cancelled")
    assert entry.detail == {"booking_id": booking.pk, "from": "PENDING", "to": "CANCELLED"}


@pytest.mark.parametrize(
    "change",
    [
        {"notes": "Moved by phone"},
        {"start": "later"},
        {"items": "replaced"},
    ],
    ids=["notes", "time", "services"],
)
def test_a_completed_booking_cannot_be_edited(change):
    booking = BookingItemFactory(booking__status=BookingStatus.COMPLETED).booking
    kwargs = dict(change)
    if "start" in kwargs:
        kwargs["start"] = booking.start + timedelta(hours=1)
    if "items" in kwargs:
        kwargs["items"] = _items(ServiceFactory())

    with pytest.raises(BookingError, match="completed: it is closed"):
        booking_update(booking=booking, **kwargs)

    stored = Booking.objects.get(pk=booking.pk)
    assert (stored.start, stored.notes, stored.items.count()) == (booking.start, None, 1)


def test_saving_a_closed_booking_unchanged_is_harmless():
    booking = BookingFactory(status=BookingStatus.COMPLETED)
    assert booking_update(booking=booking, start=booking.start, status=BookingStatus.COMPLETED) is booking
