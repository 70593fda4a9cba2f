from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from beils.lib.admin import money_column
from beils.lib.changelists import BigListMixin
from beils.lib.dates import day_bounds
from beils.lib.history import HistoryAdmin
from beils.lib.money import format_money
from bookings import calendar
from bookings.models import Booking, BookingError, BookingItem, BookingStatus
from bookings.services import (
    BOOKING_FIELDS,
    booking_charge,
    booking_check,
    booking_create,
    booking_is_charged,
    booking_reschedule,
    booking_transition,
    booking_update,
    usable_bonos,
)
from marketing.models import MarketingError
from sales.models import PaymentMethod, SalesError
from sales.services import PaymentRequest

CHARGE_ERRORS = (BookingError, SalesError, MarketingError)
PAYMENT_CHOICES = [c for c in PaymentMethod.choices if c[0] != PaymentMethod.GIFT_CARD]


class WhenFilter(admin.SimpleListFilter):
    title = _("when")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [("today", _("Today")), ("week", _("Next 7 days")), ("upcoming", _("Upcoming"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "today":
            return queryset.on_day(today)
        if self.value() == "week":
            start, end = day_bounds(today, days=7)
            return queryset.filter(start__gte=start, start__lt=end)
        if self.value() == "upcoming":
            return queryset.upcoming()
        return queryset


class BookingForm(forms.ModelForm):
    class Meta:
        model = Booking
        fields = "__all__"
        help_texts = {"end": _("With services booked below, the end is the start plus their durations.")}

    def clean_status(self):
        status = self.cleaned_data["status"]
        if self.instance.pk is not None:
            try:
                self.instance.refuse_move_to(status)
            except BookingError as error:
                raise ValidationError(str(error)) from error
        return status


class BookingItemForm(forms.ModelForm):
    class Meta:
        model = BookingItem
        fields = ["service", "name", "duration_minutes", "price", "client_bonus"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left empty, both are taken from the service when the booking is saved.
        self.fields["name"].required = self.fields["duration_minutes"].required = False


class BookingItemFormSet(BaseInlineFormSet):
    """The booking's services. Validating them is where the whole booking can be checked: the
    booking's new values are on ``self.instance`` and its final length is known only here."""

    def clean(self):
        super().clean()
        booking = self.instance
        if any(self.errors) or booking.start is None or booking.end is None:
            return
        try:
            booking_check(booking=booking, items=self.booked_items())
        except BookingError as error:
            raise ValidationError(str(error)) from error

    def booked_items(self) -> list[BookingItem]:
        """The services the booking will have once saved (kept, changed and new rows)."""
        return [
            form.instance
            for form in self.forms
            if form.cleaned_data
            and not self._should_delete_form(form)
            and (form.instance.pk is not None or form.has_changed())
        ]


class ChargeForm(forms.Form):
    """Charging a booking: for each service the client holds a usable bono for, pay it or take
    a session; what is left to pay is paid in one method."""

    method = forms.ChoiceField(label=_("Paid by"), choices=PAYMENT_CHOICES, initial=PaymentMethod.CARD)
    coupon = forms.CharField(label=_("Coupon code"), required=False, max_length=40)

    def __init__(self, *args, services, bonos, chosen, **kwargs):
        super().__init__(*args, **kwargs)
        self.bono_fields = {}
        for service in services:
            if not bonos.get(service.pk):
                continue
            name = f"bono_{service.pk}"
            choices = [("", gettext("Pay %(price)s") % {"price": format_money(service.price)})]
            choices += [(str(b.pk), gettext("Use a session of %(bono)s") % {"bono": b}) for b in bonos[service.pk]]
            initial = chosen.get(service.pk)
            self.fields[name] = forms.ChoiceField(
                label=service.name, choices=choices, required=False, initial=str(initial) if initial else ""
            )
            self.bono_fields[name] = (service, {b.pk: b for b in bonos[service.pk]})

    def bono_for(self) -> dict:
        chosen = {}
        for name, (service, bonos) in self.bono_fields.items():
            value = self.cleaned_data.get(name)
            if value:
                chosen[service] = bonos[int(value)]
        return chosen


class BookingItemInline(admin.TabularInline):
    model = BookingItem
    form = BookingItemForm
    formset = BookingItemFormSet
    extra = 1
    fields = ["service", "name", "duration_minutes", "price", "client_bonus"]
    autocomplete_fields = ["service", "client_bonus"]

    def has_add_permission(self, request, obj=None):
        return not (obj and obj.is_closed) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not (obj and obj.is_closed) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj and obj.is_closed) and super().has_delete_permission(request, obj)


@admin.register(Booking)
class BookingAdmin(BigListMixin, HistoryAdmin):
    form = BookingForm
    change_list_template = "admin/bookings/booking/change_list.html"
    change_form_template = "admin/bookings/booking/change_form.html"
    list_display = ["start", "end", "client", "staff", "status"]
    list_filter = [WhenFilter, "status", "staff"]
    list_select_related = ["client", "staff"]
    search_fields = ["^client__name", "^client__surname", "^client__email", "^client__phone"]
    date_hierarchy = "start"
    autocomplete_fields = ["client", "staff"]
    inlines = [BookingItemInline]
    actions = ["charge_selected", "confirm_selected", "complete_selected", "cancel_selected", "mark_no_show_selected"]

    def get_urls(self):
        view = self.admin_site.admin_view
        charge = view(self.charge_view)
        return [
            path("calendar/", view(self.calendar_view), name="bookings_booking_calendar"),
            path("calendar/events/", view(self.calendar_events_view), name="bookings_booking_calendar_events"),
            path("calendar/resources/", view(self.calendar_resources_view), name="bookings_booking_calendar_resources"),
            path("calendar/book/", view(self.calendar_book_view), name="bookings_booking_calendar_book"),
            path(
                "calendar/<int:object_id>/move/", view(self.calendar_move_view), name="bookings_booking_calendar_move"
            ),
            path("<int:object_id>/charge/", charge, name="bookings_booking_charge"),
            *super().get_urls(),
        ]

    def has_change_permission(self, request, obj=None):
        # A completed, cancelled or no-show booking is a record: its page is read-only.
        return not (obj and obj.is_closed) and super().has_change_permission(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except BookingError as error:
            # The form checked the booking, but another writer took the slot before the save
            # (the service checks again under the lock): the save was rolled back.
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_charge"] = bool(
            obj and not obj.is_closed and self._may_charge(request) and not booking_is_charged(obj)
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _may_charge(self, request) -> bool:
        # Charging changes the booking and makes a sale: the checkout page's permissions too.
        may_sell = request.user.has_perms(["sales.add_cart", "sales.change_cart"])
        return may_sell and super().has_change_permission(request)

    def save_model(self, request, obj, form, change):
        # Written in save_related, with its services, once the inline's rows are known: the
        # service needs both to compute the end and to check the staff member's diary.
        pass

    def save_related(self, request, form, formsets, change):
        items = None
        for formset in formsets:
            if formset.model is BookingItem:
                formset.save(commit=False)  # the rows for the change history; the service saves them
                items = formset.booked_items()
        booking = form.instance
        fields = {name: form.cleaned_data[name] for name in BOOKING_FIELDS if name in form.cleaned_data}
        if change:
            booking_update(booking=booking, items=items, actor=request.user, **fields)
        else:
            created = booking_create(**fields, items=items, actor=request.user)
            booking.pk, booking.end, booking.created_at = created.pk, created.end, created.created_at
            booking._state.adding, booking._state.db = False, created._state.db
        for formset in formsets:
            if formset.model is not BookingItem:
                self.save_formset(request, form, formset, change)

    def calendar_view(self, request):
        """The appointment book as a calendar: a day with a column per bookable staff member, or
        a staff member's week. Booking, moving and resizing go through the JSON views below."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        people = list(calendar.bookable_staff())
        mine = next((p for p in people if p.pk == request.user.pk), people[0] if people else None)
        options = {
            "view": calendar.WEEK if request.GET.get("view") == calendar.WEEK else calendar.DAY,
            "date": calendar.parse_day(request.GET.get("date")).isoformat(),
            "staff": str(request.GET.get("staff") or (mine.pk if mine else "")),
            "locale": get_language(),
            "opening": calendar.OPENING_TIME,
            "closing": calendar.CLOSING_TIME,
            "canAdd": self.has_add_permission(request),
            "canChange": self.has_change_permission(request),
            "urls": {
                "events": reverse("admin:bookings_booking_calendar_events"),
                "resources": reverse("admin:bookings_booking_calendar_resources"),
                "book": reverse("admin:bookings_booking_calendar_book"),
                "move": reverse("admin:bookings_booking_calendar_move", args=[0]),
                "clients": reverse("admin:autocomplete"),
            },
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Appointment calendar"),
            "options": options,
            "staff_choices": people,
            "services": calendar.services_catalogue() if options["canAdd"] else [],
            "legend": calendar.legend(),
            "texts": calendar.texts(),
            "changelist_url": reverse("admin:bookings_booking_changelist"),
        }
        return TemplateResponse(request, "admin/bookings/booking/calendar.html", context)

    def calendar_events_view(self, request):
        """The bookings of ``start``–``end`` (the salon's wall-clock times), of everybody or of
        one ``staff`` member, as calendar events."""
        if not self.has_view_permission(request):
            return _refused()
        form = calendar.RangeForm(request.GET)
        if not form.is_valid():
            return _bad_request(calendar.form_error(form))
        data = form.cleaned_data
        can_change = self.has_change_permission(request)
        events = calendar.events_for(start=data["start"], end=data["end"], staff=data["staff"], can_change=can_change)
        return JsonResponse(events, safe=False)

    def calendar_resources_view(self, request):
        if not self.has_view_permission(request):
            return _refused()
        form = calendar.RangeForm(request.GET)
        if not form.is_valid():
            return _bad_request(calendar.form_error(form))
        return JsonResponse(calendar.resources_for(start=form.cleaned_data["start"], end=form.cleaned_data["end"]),
                            safe=False)  # fmt: skip

    def calendar_book_view(self, request):
        """Book from the calendar (POST): ``client``, ``staff``, ``start``, ``services`` (ids,
        repeated) or ``end``, ``notes``. Answers the new event, or 400 with the refusal."""
        if request.method != "POST":
            return _bad_request(gettext("Send the booking with POST."), status=405)
        if not self.has_add_permission(request):
            return _refused()
        form = calendar.BookForm(request.POST)
        if not form.is_valid():
            return _bad_request(calendar.form_error(form))
        data = form.cleaned_data
        items = [BookingItem(service=service) for service in data["services"]] or None
        try:
            booking = booking_create(
                client=data["client"],
                staff=data["staff"],
                start=data["start"],
                end=data["end"],
                notes=data["notes"] or None,
                items=items,
                actor=request.user,
            )
        except BookingError as error:
            return _bad_request(str(error))
        return JsonResponse({"event": self._event(request, booking)}, status=201)

    def calendar_move_view(self, request, object_id):
        """A booking dragged or resized on the calendar (POST ``start``, ``end`` and, when it
        changed column, ``staff`` with ``staff_changed=1``). A refusal (an overlap, a closed
        booking) is a 400 with its message, and nothing is written."""
        if request.method != "POST":
            return _bad_request(gettext("Send the change with POST."), status=405)
        if not self.has_change_permission(request):
            return _refused()
        booking = Booking.objects.select_related("staff").filter(pk=object_id).first()
        if booking is None:
            return _bad_request(gettext("This booking no longer exists."), status=404)
        form = calendar.MoveForm(request.POST)
        if not form.is_valid():
            return _bad_request(calendar.form_error(form))
        data = form.cleaned_data
        staff = data["staff"] if data["staff_changed"] else booking.staff
        try:
            booking_reschedule(booking=booking, start=data["start"], end=data["end"], staff=staff, actor=request.user)
        except BookingError as error:
            return _bad_request(str(error))
        return JsonResponse({"event": self._event(request, booking)})

    def _event(self, request, booking):
        booking = Booking.objects.select_related("client", "staff").prefetch_related("items").get(pk=booking.pk)
        columns = set(calendar.bookable_staff().values_list("pk", flat=True))
        return calendar.event(booking, columns=columns, can_change=self.has_change_permission(request))

    def charge_view(self, request, object_id):
        """Sell the booking's services (a bono session where the client chooses one) and
        complete it; on success, the new sale's page."""
        booking = get_object_or_404(Booking.objects.select_related("client", "staff"), pk=object_id)
        if not self._may_charge(request):
            raise PermissionDenied
        change_url = reverse("admin:bookings_booking_change", args=[booking.pk])
        if booking.is_closed or booking_is_charged(booking):
            self.message_user(request, gettext("%(booking)s is closed or already charged; it cannot be charged again.")
                              % {"booking": booking}, messages.WARNING)  # fmt: skip
            return redirect(change_url)
        items = list(booking.items.select_related("service").order_by("pk"))
        services = list({item.service_id: item.service for item in items}.values())
        chosen = {item.service_id: item.client_bonus_id for item in items if item.client_bonus_id}
        form = ChargeForm(request.POST or None, services=services, bonos=usable_bonos(booking=booking), chosen=chosen)
        if request.method == "POST" and form.is_valid():
            try:
                result = booking_charge(
                    booking=booking,
                    payments=[PaymentRequest(method=form.cleaned_data["method"], amount=None)],
                    bono_for=form.bono_for(),
                    coupon=form.cleaned_data["coupon"] or None,
                    actor=request.user,
                )
            except CHARGE_ERRORS as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Booking charged and completed: %(total)s, invoice %(number)s.")
                    % {"total": format_money(result.cart.total), "number": result.invoice.number},
                    messages.SUCCESS,
                )
                return redirect("admin:sales_cart_change", result.cart.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Charge %(booking)s") % {"booking": booking},
            "opts": self.opts,
            "booking": booking,
            "items": items,
            "form": form,
            "bono_fields": [form[name] for name in form.bono_fields],
            "payment_fields": [form["method"], form["coupon"]],
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/bookings/booking/charge.html", context)

    @admin.action(description=_("Charge the selected booking"), permissions=["change"])
    def charge_selected(self, request, queryset):
        bookings = list(queryset[:2])
        if len(bookings) != 1:
            self.message_user(request, gettext("Choose exactly one booking to charge."), messages.WARNING)
            return None
        return redirect("admin:bookings_booking_charge", bookings[0].pk)

    @admin.action(description=_("Confirm selected bookings"), permissions=["change"])
    def confirm_selected(self, request, queryset):
        self._move_selected(request, queryset, BookingStatus.CONFIRMED)

    @admin.action(description=_("Mark selected bookings as completed"), permissions=["change"])
    def complete_selected(self, request, queryset):
        self._move_selected(request, queryset, BookingStatus.COMPLETED)

    @admin.action(description=_("Cancel selected bookings"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        self._move_selected(request, queryset, BookingStatus.CANCELLED)

    @admin.action(description=_("Mark selected bookings as no-show"), permissions=["change"])
    def mark_no_show_selected(self, request, queryset):
        self._move_selected(request, queryset, BookingStatus.NO_SHOW)

    def _move_selected(self, request, queryset, status):
        moved, refused = 0, []
        for booking in queryset.select_related("client"):
            try:
                moved += booking_transition(booking=booking, status=status, actor=request.user)
            except BookingError as error:
                refused.append(f"{booking}: {error}")
        label = BookingStatus(status).label.lower()
        self.message_user(
            request,
            ngettext("%(count)d booking is now %(status)s.", "%(count)d bookings are now %(status)s.", moved)
            % {"count": moved, "status": label},
            messages.SUCCESS if moved else messages.WARNING,
        )
        for refusal in refused:
            self.message_user(request, refusal, messages.ERROR)


def _bad_request(message: str, *, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _refused() -> JsonResponse:
    return JsonResponse({"error": gettext("You do not have permission to do this.")}, status=403)


@admin.register(BookingItem)
class BookingItemAdmin(BigListMixin, admin.ModelAdmin):
    list_display = ["name", "booking", "duration_minutes", "price_money"]
    list_select_related = ["booking__client"]
    search_fields = ["name", "^booking__client__name", "^booking__client__surname"]
    raw_id_fields = ["booking"]
    autocomplete_fields = ["service", "client_bonus"]
    ordering = ["-pk"]  # newest first; the model's order (by booking) would sort every line

    price_money = money_column("price", _("price (VAT incl.)"))
