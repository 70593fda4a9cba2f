"""Bookings: three years of visits and two weeks of upcoming ones, no staff member ever double-booked."""

from collections import defaultdict
from datetime import date, datetime, timedelta

from bookings.models import Booking, BookingItem, BookingStatus
from catalog.models import Service
from crm.models import Client, User
from demo.builders.salon import Salon
from marketing.models import ClientBonus

# A booking in these states is paid with a bono session (taken from the balance once completed).
HOLDS_A_SESSION = (BookingStatus.COMPLETED, BookingStatus.PENDING, BookingStatus.CONFIRMED)


def build_bookings(
    salon: Salon, clients: list[Client], client_bonuses: list[ClientBonus]
) -> tuple[list[Booking], list[BookingItem]]:
    """Each client's visits (0 to 8, a few today and a few upcoming), and what was done at each;
    bono holders mostly come for their bono's service and pay it with a session."""
    by_client = defaultdict(list)
    for cb in client_bonuses:
        by_client[cb.client_id].append(cb)
    bookings, booking_services = [], []
    today_share = min(0.05, 20 / max(salon.n_clients, 1))  # a busy day, whatever the salon's size
    for client in clients:
        for booking, services in _visits(salon, client, by_client, today_share):
            bookings.append(booking)
            booking_services.append(services)
    bookings = salon.put(Booking, bookings)
    return bookings, _build_items(salon, bookings, booking_services, by_client)


def _visits(salon: Salon, client: Client, by_client: dict, today_share: float):
    """Yield one client's bookings, each with the services booked."""
    rng = salon.rng
    visits = [(False, None)] * rng.choice([0, 1, 2, 3, 4, 5, 6, 8])
    if rng.random() < today_share and salon.anchor.weekday() != 6:
        visits.append((True, salon.anchor))
    for is_today, day in visits:
        future = not is_today and rng.random() < 0.04
        day = day or salon.random_day(future=future)
        if not future and day < client.created_at.date():
            continue
        services = rng.sample(salon.services, rng.choice([1, 1, 1, 2]))
        if client.pk in by_client and rng.random() < 0.7:  # bono holders come for their bono
            services[0] = salon.bonus_service[rng.choice(by_client[client.pk]).bonus_id]
            services = list(dict.fromkeys(services))
        minutes = sum(s.duration_minutes for s in services)
        slot = _book(salon, day, minutes)
        if slot is None:
            continue
        staff, start = slot
        end = start + timedelta(minutes=minutes)
        status = _status(salon, is_today=is_today, future=future, end=end)
        yield Booking(client=client, staff=staff, start=start, end=end, status=status, is_demo=True,
                      created_at=min(start - timedelta(days=rng.randint(0, 20)), salon.now)), services  # fmt: skip


def _book(salon: Salon, day: date, minutes: int) -> tuple[User, datetime] | None:
    """A free slot for one of the staff on ``day``: no staff member is double-booked."""
    for _ in range(4):
        staff = salon.rng.choice(salon.staff)
        start = salon.staff_cursor.get((staff.pk, day)) or salon.when(day, 9 * 60)
        start += timedelta(minutes=salon.rng.choice([0, 0, 15, 30, 45]))
        if start + timedelta(minutes=minutes) <= salon.when(day, 20 * 60):
            salon.staff_cursor[(staff.pk, day)] = start + timedelta(minutes=minutes)
            return staff, start
    return None


def _status(salon: Salon, *, is_today: bool, future: bool, end: datetime) -> str:
    """Today's visits are done once they end; past ones mostly completed, upcoming ones not yet."""
    if is_today:
        return BookingStatus.COMPLETED if end <= salon.now else BookingStatus.CONFIRMED
    if future:
        return salon.rng.choice([BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.CONFIRMED])
    roll = salon.rng.random()
    return BookingStatus.COMPLETED if roll < 0.85 else BookingStatus.CANCELLED if roll < 0.93 else BookingStatus.NO_SHOW


def _build_items(salon: Salon, bookings: list[Booking], booking_services: list, by_client: dict) -> list[BookingItem]:
    """A line per service booked, paid with a session of a bono that covers it when the client has one."""
    items = []
    bono_pool = {cid: list(cbs) for cid, cbs in by_client.items()}
    for booking, services in zip(bookings, booking_services, strict=True):
        for service in services:
            cb = _session_for(salon, bono_pool.get(booking.client_id, ()), service, booking)
            items.append(BookingItem(booking=booking, service=service, name=service.name, duration_minutes=service.duration_minutes,
                                     price=service.price, client_bonus=cb, is_demo=True))  # fmt: skip
    return salon.put(BookingItem, items)


def _session_for(salon: Salon, bonos: list[ClientBonus], service: Service, booking: Booking) -> ClientBonus | None:
    cb = next((c for c in bonos if salon.bonus_service[c.bonus_id] == service
               and c.sessions_remaining > 0 and c.purchased_on <= booking.start.date()), None)  # fmt: skip
    if cb is None or booking.status not in HOLDS_A_SESSION:
        return None
    if booking.status == BookingStatus.COMPLETED:
        cb.sessions_remaining -= 1
    return cb
