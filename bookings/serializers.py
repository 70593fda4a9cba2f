from contextlib import contextmanager

from rest_framework import serializers

from bookings.models import Booking, BookingError, BookingItem
from bookings.services import booking_charge, booking_create, booking_update
from catalog.models import Service
from marketing.models import ClientBonus
from sales.serializers import CheckoutPaymentSerializer
from sales.services import PaymentRequest


class BookingItemSerializer(serializers.ModelSerializer):
    """A service in a booking; name and duration default to the service's."""

    class Meta:
        model = BookingItem
        fields = ["id", "service", "name", "duration_minutes", "price", "client_bonus"]
        extra_kwargs = {"name": {"required": False}, "duration_minutes": {"required": False, "min_value": 1}}

    def validate(self, attrs):
        service = attrs["service"]
        attrs["name"] = attrs.get("name") or service.name
        attrs["duration_minutes"] = attrs.get("duration_minutes") or service.duration_minutes
        return attrs


class BookingSerializer(serializers.ModelSerializer):
    """An appointment with its services. ``items``, when sent, replace the booking's services;
    with services the end is ``start`` plus their durations, without them ``end`` is required.
    A staff member cannot hold two overlapping active bookings, and a completed, cancelled or
    no-show booking can no longer change (``bookings/services.py`` holds the rules)."""

    items = BookingItemSerializer(many=True, required=False)

    class Meta:
        model = Booking
        fields = ["id", "client", "staff", "start", "end", "status", "notes", "items", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"end": {"required": False}}

    def create(self, validated_data):
        items = self._items(validated_data.pop("items", None))
        with _as_validation_error():
            return booking_create(**validated_data, items=items, actor=self._actor())

    def update(self, instance, validated_data):
        items = self._items(validated_data.pop("items", None))
        with _as_validation_error():
            return booking_update(booking=instance, items=items, actor=self._actor(), **validated_data)

    def _items(self, items):
        return None if items is None else [BookingItem(**item) for item in items]

    def _actor(self):
        request = self.context.get("request")
        return getattr(request, "user", None)


class ChargeBonoSerializer(serializers.Serializer):
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all())
    client_bonus = serializers.PrimaryKeyRelatedField(queryset=ClientBonus.objects.all())


class BookingChargeSerializer(serializers.Serializer):
    """Charge a booking: ``payments`` as in the checkout (they add up to what is left to pay),
    ``bonos`` the services paid with a session of the client's bono instead (left out: the bonos
    chosen on the booking's services; ``[]``: none), and an optional ``coupon``."""

    payments = CheckoutPaymentSerializer(many=True, required=False, default=list)
    bonos = ChargeBonoSerializer(many=True, required=False)
    coupon = serializers.CharField(required=False, allow_blank=True, max_length=40)

    def charge(self, *, booking, actor):
        data = self.validated_data
        bonos = data.get("bonos")
        return booking_charge(
            booking=booking,
            payments=[
                PaymentRequest(method=p["method"], amount=p["amount"], gift_card_code=p.get("gift_card"))
                for p in data["payments"]
            ],
            bono_for=None if bonos is None else {b["service"]: b["client_bonus"] for b in bonos},
            coupon=data.get("coupon") or None,
            actor=actor,
        )


@contextmanager
def _as_validation_error():
    """A refusal of the appointment book as a 400 on the field it is about."""
    try:
        yield
    except BookingError as error:
        raise serializers.ValidationError({error.field or "detail": [str(error)]}) from error
