"""Two receptionists book the same staff member for the same time at the same moment: the lock
on the staff member's row lets exactly one of them win. Only MariaDB has the row locks (SQLite
serialises whole transactions), so that is where this runs."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from bookings.models import Booking, BookingError
from bookings.services import booking_create
from tests.factories import ClientFactory, UserFactory, _tomorrow_at_ten

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB"),
]


def _book_at_once(count, make_booking):
    """Run ``make_booking(n)`` in ``count`` threads released together; return what each did."""
    barrier, outcomes = threading.Barrier(count), [None] * count

    def worker(n):
        try:
            barrier.wait(timeout=10)
            outcomes[n] = make_booking(n)
        except BookingError as error:
            outcomes[n] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_overlapping_bookings_made_at_once_for_the_same_staff_member_let_exactly_one_win():
    staff, clients = UserFactory(), [ClientFactory(), ClientFactory()]
    start = _tomorrow_at_ten()

    outcomes = _book_at_once(
        2,
        lambda n: booking_create(
            client=clients[n],
            staff=staff,
            start=start + timedelta(minutes=15 * n),
            end=start + timedelta(minutes=60 + 15 * n),
        ),
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Booking", "BookingError"]
    assert Booking.objects.filter(staff=staff).count() == 1


def test_bookings_made_at_once_for_different_staff_members_all_succeed():
    people, client = [UserFactory() for _ in range(3)], ClientFactory()
    start = _tomorrow_at_ten()

    outcomes = _book_at_once(
        3, lambda n: booking_create(client=client, staff=people[n], start=start, end=start + timedelta(hours=1))
    )

    assert all(isinstance(outcome, Booking) for outcome in outcomes)
    assert Booking.objects.count() == 3
