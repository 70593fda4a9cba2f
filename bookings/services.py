"""The appointment book's rules, one function per operation; the admin and the API call these.

The rule that matters most: the same staff member never holds two overlapping active bookings.
Checking and writing are one transaction that first locks the staff member's ``User`` row, so
two requests booking the same person queue on that lock and the second one sees the first one's
booking (Django runs MariaDB at READ COMMITTED, so a read after the lock sees every commit).
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _

from audit.services import audit_log
from bookings.models import ACTIVE_STATUSES, Booking, BookingError, BookingItem, BookingStatus
from catalog.models import Service
from crm.models import Client, User
from marketing.models import ClientBonus
from sales.models import CartStatus
from sales.services import CheckoutResult, LineRequest, PaymentRequest, cart_checkout, invoice_sequence_ensure

#: What a caller may change on a booking; its services are passed as ``items``.
BOOKING_FIELDS = ("client", "staff", "start", "end", "status", "notes")


@transaction.atomic
def booking_create(
    *,
    client: Client,
    start: datetime,
    staff: User | None = None,
    end: datetime | None = None,
    status: str = BookingStatus.PENDING,
    notes: str | None = None,
    items: Sequence[BookingItem] | None = None,
    actor: User | None = None,
) -> Booking:
    """Book ``client`` with ``staff``. With services (``items``, unsaved ``BookingItem``s), the
    booking lasts as long as they do and ``end`` is ignored; without, ``end`` is required."""
    booking = Booking(client=client, staff=staff, start=start, end=end, status=status, notes=notes)
    _lock_staff(booking.staff)
    booking.end = _end_for(booking, items)
    _refuse_overlap(booking)
    booking.save()
    _save_items(booking, items)
    return booking


@transaction.atomic
def booking_update(
    *,
    booking: Booking,
    items: Sequence[BookingItem] | None = None,
    actor: User | None = None,
    **changes: Any,
) -> Booking:
    """Change the fields in ``changes`` (names from :data:`BOOKING_FIELDS`) and, when ``items``
    is given, replace the booking's services with exactly those. A closed booking (completed,
    cancelled, no-show) refuses any change; a status change must follow the transitions."""
    unknown = set(changes) - set(BOOKING_FIELDS)
    if unknown:
        raise TypeError(f"booking_update() cannot change {sorted(unknown)}")  # i18n: technical
    stored = Booking.objects.select_for_update().get(pk=booking.pk)
    changed = _changed_fields(stored, changes)
    if not changed and items is None:
        return booking
    if stored.is_closed:
        stored.refuse_move_to(BookingStatus.PENDING)
    if "status" in changed:
        stored.refuse_move_to(changes["status"])
    for name, value in changes.items():
        setattr(booking, name, value)
    _lock_staff(booking.staff)
    booking.end = _end_for(booking, items)
    _refuse_overlap(booking)
    booking.save()
    _save_items(booking, items)
    if "status" in changed:
        _audit_status(booking, old=stored.status, actor=actor)
    return booking


@transaction.atomic
def booking_reschedule(
    *,
    booking: Booking,
    start: datetime,
    end: datetime,
    staff: User | None,
    actor: User | None = None,
) -> Booking:
    """Move ``booking`` to [start, end) with ``staff`` (the calendar's drag and resize). A booking
    with services lasts as long as they do, so a new length is taken by its last service: it
    grows or shrinks by the difference (never to nothing). Refused like any change: a closed
    booking, an overlap with the staff member's other bookings."""
    stored = Booking.objects.select_for_update().get(pk=booking.pk)
    if stored.is_closed:
        stored.refuse_move_to(BookingStatus.PENDING)
    items = list(stored.items.order_by("pk"))
    minutes = int((end - start).total_seconds() // 60)
    booked = sum(item.duration_minutes for item in items)
    stretched = bool(items) and minutes != booked
    if stretched:
        last = items[-1]
        last.duration_minutes += minutes - booked
        if last.duration_minutes <= 0:
            raise BookingError(
                _("%(service)s cannot be that short: shorten the booking less, or edit its services.")
                % {"service": last.name},
                field="end",
            )
    old = {"start": stored.start.isoformat(), "end": stored.end.isoformat(), "staff_id": stored.staff_id}
    booking_update(booking=booking, start=start, end=end, staff=staff, items=items if stretched else None, actor=actor)
    audit_log(
        action="bookings.booking.rescheduled",
        actor=actor,
        target=booking,
        detail={
            "booking_id": booking.pk,
            "from": old,
            "to": {"start": booking.start.isoformat(), "end": booking.end.isoformat(), "staff_id": booking.staff_id},
        },
    )
    return booking


def booking_check(*, booking: Booking, items: Sequence[BookingItem] | None = None) -> datetime:
    """Raise the :class:`BookingError` that saving ``booking`` (unsaved changes and all) with
    ``items`` would raise, without locking; return the end it would get. For forms, which show
    the refusal next to the fields; the write itself checks again under the lock."""
    end = _end_for(booking, items)
    candidate = Booking(pk=booking.pk, staff_id=booking.staff_id, start=booking.start, end=end, status=booking.status)
    _refuse_overlap(candidate)
    return end


@transaction.atomic
def booking_transition(*, booking: Booking, status: str, actor: User | None = None) -> bool:
    """Move ``booking`` to ``status`` (confirm, complete, cancel, mark as no-show) and audit it.
    Returns False when it already had that status."""
    stored = Booking.objects.select_for_update().get(pk=booking.pk)
    old = stored.status
    if status == old:
        return False
    if status == BookingStatus.NO_SHOW:
        stored.mark_no_show()
    else:
        stored.move_to(status)
    booking.status = stored.status
    _audit_status(stored, old=old, actor=actor)
    return True


def booking_charge(
    *,
    booking: Booking,
    payments: Sequence[PaymentRequest],
    bono_for: Mapping[Service | int, ClientBonus] | None = None,
    coupon: str | None = None,
    actor: User | None = None,
) -> CheckoutResult:
    """Sell the booking's services and complete it, in one transaction: the sale (through
    ``cart_checkout``, so prices come from the catalogue), its payments, invoice and bono ledger
    rows, the sale linked to the booking, and the booking COMPLETED (audited). Any refusal, here
    or in the checkout, leaves nothing behind and the booking open.

    ``bono_for`` maps a service (or its id) to the client's bono a session of it is taken from
    instead of being paid; None uses the bonos chosen on the booking's services, ``{}`` none.
    """
    # As in cart_checkout: the invoice sequence row must exist before the transaction opens.
    invoice_sequence_ensure(series=settings.INVOICE_SERIES)
    with transaction.atomic():
        stored = Booking.objects.select_for_update().select_related("client").get(pk=booking.pk)
        _refuse_charge(stored)
        result = cart_checkout(
            lines=charge_lines(booking=stored, bono_for=bono_for),
            payments=list(payments),
            client=stored.client,
            booking=stored,
            coupon_code=coupon or None,
            actor=actor,
        )
        booking_transition(booking=stored, status=BookingStatus.COMPLETED, actor=actor)
        audit_log(
            action="bookings.booking.charged",
            actor=actor,
            target=stored,
            detail={"booking_id": stored.pk, "cart_id": result.cart.pk, "invoice": result.invoice.number},
        )
    booking.status = stored.status
    return result


def charge_lines(*, booking: Booking, bono_for: Mapping[Service | int, ClientBonus] | None = None) -> list[LineRequest]:
    """The sale lines of a booking: a service line per service booked, or a bono session where
    a bono is chosen for it; the same service (or bono) booked twice is one line of two."""
    items = list(booking.items.select_related("service", "client_bonus").order_by("pk"))
    if not items:
        raise BookingError(_("This booking has no services to charge: add them first."))
    chosen = (
        {item.service_id: item.client_bonus for item in items if item.client_bonus_id}
        if bono_for is None
        else {getattr(service, "pk", service): bonus for service, bonus in bono_for.items() if bonus is not None}
    )
    quantities: dict[tuple[str, int], int] = {}
    targets: dict[tuple[str, int], Any] = {}
    for item in items:
        bonus = chosen.get(item.service_id)
        if bonus is not None:
            _refuse_bono(bonus, booking=booking, service=item.service)
        key = ("client_bonus", bonus.pk) if bonus is not None else ("service", item.service_id)
        targets[key] = bonus if bonus is not None else item.service
        quantities[key] = quantities.get(key, 0) + 1
    return [LineRequest(**{name: targets[(name, pk)]}, quantity=n) for (name, pk), n in quantities.items()]


def usable_bonos(*, booking: Booking) -> dict[int, list[ClientBonus]]:
    """The client's bonos that can pay for each service of ``booking`` today, by service id."""
    service_ids = set(booking.items.values_list("service_id", flat=True))
    bonos = (
        ClientBonus.objects.usable()
        .filter(client=booking.client_id, services__in=service_ids)
        .prefetch_related("services")
        .distinct()
        .order_by("expires_on", "pk")
    )
    found: dict[int, list[ClientBonus]] = {}
    for bono in bonos:
        for service in bono.services.all():
            if service.pk in service_ids:
                found.setdefault(service.pk, []).append(bono)
    return found


def booking_is_charged(booking: Booking) -> bool:
    return booking.carts.filter(status=CartStatus.COMPLETED).exists()


# --- the rules ------------------------------------------------------------------------------


def _lock_staff(staff: User | None) -> None:
    # The staff member's row is the lock for their diary: every writer of a booking for them
    # takes it before looking for clashes, and holds it until its transaction ends.
    if staff is not None:
        list(User.all_objects.select_for_update().filter(pk=staff.pk).values_list("pk", flat=True))


def _end_for(booking: Booking, items: Sequence[BookingItem] | None) -> datetime:
    if items is not None:
        minutes = sum(item.duration_minutes or item.service.duration_minutes for item in items)
    elif booking.pk is not None:
        minutes = booking.items_duration()
    else:
        minutes = 0
    end = booking.start + timedelta(minutes=minutes) if minutes else booking.end
    if end is None:
        raise BookingError(_("Give the end time, or the services booked."), field="end")
    if end <= booking.start:
        raise BookingError(_("The booking must end after it starts."), field="end")
    return end


def _refuse_overlap(booking: Booking) -> None:
    if booking.staff_id is None or booking.status not in ACTIVE_STATUSES:
        return
    clashes = Booking.objects.overlapping(staff=booking.staff_id, start=booking.start, end=booking.end)
    if booking.pk is not None:
        clashes = clashes.exclude(pk=booking.pk)
    clash = clashes.select_related("staff").order_by("start").first()
    if clash is not None:
        start, end = timezone.localtime(clash.start), timezone.localtime(clash.end)
        raise BookingError(
            _("%(staff)s already has a booking from %(start)s to %(end)s on %(day)s.")
            % {
                "staff": clash.staff.get_full_name(),
                "start": time_format(start, "H:i"),
                "end": time_format(end, "H:i"),
                "day": date_format(start, "SHORT_DATE_FORMAT"),
            },
            field="start",
        )


def _save_items(booking: Booking, items: Sequence[BookingItem] | None) -> None:
    if items is None:
        return
    kept = [item.pk for item in items if item.pk is not None]
    booking.items.exclude(pk__in=kept).delete()
    for item in items:
        item.booking = booking
        item.save()


def _refuse_charge(booking: Booking) -> None:
    charged = booking.carts.filter(status=CartStatus.COMPLETED).order_by("pk").first()
    if charged is not None:
        raise BookingError(_("This booking was already charged: %(sale)s.") % {"sale": charged})
    if booking.is_closed:
        status = BookingStatus(booking.status).label.lower()
        raise BookingError(_("This booking is %(status)s: it is closed and cannot be charged.") % {"status": status})


def _refuse_bono(bonus: ClientBonus, *, booking: Booking, service: Service) -> None:
    # The checkout checks sessions and expiry; whose bono it is and what it covers is ours.
    if bonus.client_id != booking.client_id:
        raise BookingError(_("The bono %(bono)s belongs to another client.") % {"bono": bonus.name})
    if not bonus.services.filter(pk=service.pk).exists():
        raise BookingError(
            _("The bono %(bono)s does not cover %(service)s.") % {"bono": bonus.name, "service": service.name}
        )


def _changed_fields(stored: Booking, changes: dict[str, Any]) -> set[str]:
    changed = set()
    for name, value in changes.items():
        field = Booking._meta.get_field(name)
        new = value.pk if isinstance(value, models.Model) else value
        if getattr(stored, field.attname) != new:
            changed.add(name)
    return changed


def _audit_status(booking: Booking, *, old: str, actor: User | None) -> None:
    audit_log(
        action=f"bookings.booking.{booking.status.lower()}",
        actor=actor,
        target=booking,
        detail={"booking_id": booking.pk, "from": old, "to": booking.status},
    )
