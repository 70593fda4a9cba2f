from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beils.lib.admin import ImportExportAdmin
from beils.lib.dates import day_bounds
from bookings.models import Booking, BookingItem
from bookings.resources import BookingItemResource, BookingResource


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


class BookingItemInline(admin.TabularInline):
    model = BookingItem
    extra = 1
    fields = ["service", "name", "duration_minutes", "price", "client_bonus"]
    autocomplete_fields = ["service", "client_bonus"]


@admin.register(Booking)
class BookingAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [BookingResource]
    list_display = ["start", "end", "client", "staff", "status"]
    list_filter = [WhenFilter, "status", "staff"]
    list_select_related = ["client", "staff"]
    search_fields = ["client__name", "client__surname", "client__email", "client__phone"]
    date_hierarchy = "start"
    autocomplete_fields = ["client", "staff"]
    inlines = [BookingItemInline]
    show_full_result_count = False


@admin.register(BookingItem)
class BookingItemAdmin(ImportExportAdmin, admin.ModelAdmin):
    resource_classes = [BookingItemResource]
    list_display = ["name", "booking", "duration_minutes", "price"]
    list_select_related = ["booking__client"]
    search_fields = ["name", "booking__client__name", "booking__client__surname"]
    raw_id_fields = ["booking"]
    autocomplete_fields = ["service", "client_bonus"]
    show_full_result_count = False
