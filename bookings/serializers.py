from datetime import timedelta

from rest_framework import serializers

from beils.lib.api import ModelConstraintsMixin
from bookings.models import ACTIVE_STATUSES, Booking, BookingItem
from crm.models import User


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


class BookingSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    """An appointment with its services. ``items``, when sent, replace the booking's services;
    ``end`` defaults to ``start`` plus their durations. A staff member cannot hold two
    overlapping active bookings."""

    items = BookingItemSerializer(many=True, required=False)

    class Meta:
        model = Booking
        fields = ["id", "client", "staff", "start", "end", "status", "notes", "items", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"end": {"required": False}}

    def validate(self, attrs):
        items = attrs.get("items")
        if "end" not in attrs and self.instance is None:
            if not items:
                raise serializers.ValidationError({"end": ["Give the end time, or the services (items) booked."]})
            attrs["end"] = attrs["start"] + timedelta(minutes=sum(i["duration_minutes"] for i in items))
        return super().validate(attrs)

    def create(self, validated_data):
        items = validated_data.pop("items", [])
        self._refuse_overlap(validated_data)
        booking = super().create(validated_data)
        self._save_items(booking, items)
        return booking

    def update(self, instance, validated_data):
        items = validated_data.pop("items", None)
        self._refuse_overlap(validated_data)
        booking = super().update(instance, validated_data)
        if items is not None:
            booking.items.all().delete()
            self._save_items(booking, items)
        return booking

    def _save_items(self, booking, items):
        BookingItem.objects.bulk_create(BookingItem(booking=booking, **item) for item in items)

    def _refuse_overlap(self, data) -> None:
        """Runs inside the write's transaction, with the staff member's row locked, so that two
        concurrent requests cannot both take the same slot."""
        current = self.instance
        staff = data.get("staff", getattr(current, "staff", None))
        status = data.get("status", current.status if current else Booking._meta.get_field("status").default)
        if staff is None or status not in ACTIVE_STATUSES:
            return
        User.all_objects.select_for_update().filter(pk=staff.pk).first()
        start = data.get("start", getattr(current, "start", None))
        end = data.get("end", getattr(current, "end", None))
        clashes = Booking.objects.overlapping(staff=staff, start=start, end=end)
        if current is not None:
            clashes = clashes.exclude(pk=current.pk)
        if clashes.exists():
            raise serializers.ValidationError(
                {"start": [f"{staff.get_full_name()} already has a booking at this time."]}
            )
