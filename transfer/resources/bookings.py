"""Import/export of the appointment book: bookings by ID, with the client and the staff member
by email and each service by code."""

from bookings.models import Booking, BookingItem
from catalog.models import Service
from crm.models import Client, User
from marketing.models import ClientBonus
from transfer.resources.base import BeilsResource
from transfer.resources.fields import id_fk, natural_fk


class BookingResource(BeilsResource):
    client = natural_fk("client", Client, "email", column="Client email", lower=True)
    staff = natural_fk("staff", User, "email", column="Staff email", lower=True)

    class Meta(BeilsResource.Meta):
        model = Booking
        fields = ("id", "client", "staff", "start", "end", "status", "notes", "legacy_id", "created_at")


class BookingItemResource(BeilsResource):
    booking = id_fk("booking", Booking)
    service = natural_fk("service", Service, "code", column="Service code")
    client_bonus = id_fk("client_bonus", ClientBonus, column="Client bono ID")

    class Meta(BeilsResource.Meta):
        model = BookingItem
        fields = ("id", "booking", "service", "name", "duration_minutes", "price", "client_bonus", "created_at")
