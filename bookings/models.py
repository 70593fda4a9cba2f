from django.conf import settings
from django.db import models
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from beils.lib.dates import day_bounds
from beils.lib.errors import DomainError
from beils.lib.models import BeilsModel, money
from catalog.models import Service
from crm.models import Client
from marketing.models import ClientBonus


class BookingError(DomainError):
    """A refusal of the appointment book (an overlap, an edit of a finished booking…), worded
    for the staff member who caused it. ``field`` names the input it is about, when there is one."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class BookingStatus(models.TextChoices):
    PENDING = "PENDING", _("Pending")
    CONFIRMED = "CONFIRMED", _("Confirmed")
    COMPLETED = "COMPLETED", _("Completed")
    CANCELLED = "CANCELLED", _("Cancelled")
    NO_SHOW = "NO_SHOW", _("No show")


# Bookings that hold the staff member's time; the others free the slot.
ACTIVE_STATUSES = (BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.COMPLETED)
# Where a booking may go from each status. Completed, cancelled and no-show bookings are closed:
# they are the salon's record of what happened, and are never edited again.
TRANSITIONS = {
    BookingStatus.PENDING: {
        BookingStatus.CONFIRMED,
        BookingStatus.COMPLETED,
        BookingStatus.CANCELLED,
        BookingStatus.NO_SHOW,
    },
    BookingStatus.CONFIRMED: {BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_SHOW},
    BookingStatus.COMPLETED: set(),
    BookingStatus.CANCELLED: set(),
    BookingStatus.NO_SHOW: set(),
}
CLOSED_STATUSES = tuple(status for status, targets in TRANSITIONS.items() if not targets)


class BookingQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def on_day(self, day):
        start, end = day_bounds(day)
        return self.filter(start__gte=start, start__lt=end)

    def upcoming(self, *, now=None):
        return self.active().exclude(status=BookingStatus.COMPLETED).filter(start__gte=now or timezone.now())

    def overlapping(self, *, staff, start, end):
        """Active bookings of ``staff`` that overlap the half-open interval [start, end)."""
        return self.active().filter(staff=staff, start__lt=end, end__gt=start)


class Booking(BeilsModel):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="bookings", verbose_name=_("client"))
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bookings",
        verbose_name=_("staff member"),
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    status = models.CharField(_("status"), max_length=10, choices=BookingStatus.choices, default=BookingStatus.PENDING)
    notes = models.TextField(_("notes"), null=True, blank=True)
    legacy_id = models.CharField(_("legacy id"), max_length=100, null=True, blank=True, unique=True, editable=False)

    objects = BookingQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["-start"]
        indexes = [
            models.Index(fields=["start"], name="bookings_booking_start"),
            models.Index(fields=["staff", "start"], name="bookings_booking_staff_start"),
            models.Index(fields=["status", "start"], name="bookings_booking_status_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="bookings_booking_ends_after_start")
        ]

    def __str__(self):
        return f"{self.client} · {date_format(timezone.localtime(self.start), 'SHORT_DATETIME_FORMAT')}"

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    def items_duration(self) -> int:
        return self.items.aggregate(total=Sum("duration_minutes"))["total"] or 0

    @property
    def is_closed(self) -> bool:
        """Completed, cancelled and no-show bookings are a record: they cannot be edited."""
        return self.status in CLOSED_STATUSES

    def can_move_to(self, status: str) -> bool:
        return status == self.status or status in TRANSITIONS[BookingStatus(self.status)]

    def confirm(self) -> None:
        self.move_to(BookingStatus.CONFIRMED)

    def complete(self) -> None:
        self.move_to(BookingStatus.COMPLETED)

    def cancel(self) -> None:
        self.move_to(BookingStatus.CANCELLED)

    def mark_no_show(self, *, now=None) -> None:
        if self.start > (now or timezone.now()):
            raise BookingError(gettext("A client cannot miss an appointment that has not started yet."), field="status")
        self.move_to(BookingStatus.NO_SHOW)

    def move_to(self, status: str) -> None:
        """Change the status along :data:`TRANSITIONS` and save it; anything else is refused."""
        self.refuse_move_to(status)
        self.status = status
        self.save(update_fields=["status", "updated_at"])

    def refuse_move_to(self, status: str) -> None:
        if self.can_move_to(status):
            return
        current, wanted = BookingStatus(self.status).label, BookingStatus(status).label
        if self.is_closed:
            message = gettext("This booking is %(status)s: it is closed and can no longer change.") % {
                "status": current.lower()
            }
        else:
            message = gettext("A %(current)s booking cannot become %(wanted)s.") % {
                "current": current.lower(),
                "wanted": wanted.lower(),
            }
        raise BookingError(message, field="status")


class BookingItem(BeilsModel):
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="items", verbose_name=_("booking"))
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="booking_items", verbose_name=_("service")
    )
    name = models.CharField(_("name"), max_length=150, help_text=_("Snapshot of the service name"))
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"))
    price = money(_("price (VAT incl.)"), null=True, blank=True)
    client_bonus = models.ForeignKey(
        ClientBonus,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="booking_items",
        verbose_name=_("bono"),
        help_text=_("The bono this session will be taken from"),
    )

    class Meta:
        verbose_name = _("booking service")
        verbose_name_plural = _("booking services")
        ordering = ["booking", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="bookings_bookingitem_duration_positive")
        ]

    def __str__(self):
        return f"{self.name} ({self.duration_minutes} min)"

    def prepare_to_save(self) -> None:
        if self.service_id and not self.name:
            self.name = self.service.name
        if self.service_id and not self.duration_minutes:
            self.duration_minutes = self.service.duration_minutes
        super().prepare_to_save()
