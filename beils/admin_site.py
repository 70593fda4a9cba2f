import threading

from django.contrib import admin
from django.utils import timezone

from beils.lib.dates import day_bounds


class BeilsAdminSite(admin.AdminSite):
    site_header = "Beils"
    site_title = "Beils back office"
    index_title = "Today at the salon"
    index_template = "admin/beils_index.html"

    def __init__(self, name="admin"):
        super().__init__(name)
        self._deferred = []
        self._deferred_lock = threading.RLock()

    def defer(self, extend) -> None:
        """Call ``extend(site)`` once, just before the site's URLs or system checks are first
        needed, instead of while the admin modules load. For an app whose additions to other
        admins cost heavy imports (transfer's import and export buttons: django-import-export,
        tablib, openpyxl), so that a ``manage.py`` command that never serves the admin does not
        pay for them. A request loads the URLs first, so every screen sees the additions."""
        self._deferred.append(extend)

    def run_deferred(self) -> None:
        with self._deferred_lock:
            while self._deferred:
                self._deferred[0](self)
                # Only once it has worked: one that raises (ImproperlyConfigured) raises again.
                self._deferred.pop(0)

    def get_urls(self):
        self.run_deferred()
        return super().get_urls()

    def check(self, app_configs):
        self.run_deferred()
        return super().check(app_configs)

    def index(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "dashboard": today_at_the_salon(request.user)}
        return super().index(request, extra_context)


def today_at_the_salon(user) -> dict:
    """The landing figures, each only for users allowed to see the underlying records."""
    from bookings.models import Booking
    from catalog.models import Product
    from sales.models import Cart, Debt

    today = timezone.localdate()
    figures = {"today": today}
    if user.has_perm("bookings.view_booking"):
        figures["bookings"] = list(
            Booking.objects.on_day(today).select_related("client", "staff").order_by("start")[:50]
        )
    if user.has_perm("sales.view_cart"):
        sales_today = Cart.objects.completed_between(*day_bounds(today))
        figures["revenue"] = sales_today.revenue()
        figures["sales_count"] = sales_today.count()
    if user.has_perm("sales.view_debt"):
        open_debts = Debt.objects.open()
        figures["open_debts_count"] = open_debts.count()
        figures["open_debts_total"] = open_debts.outstanding()
    if user.has_perm("maintenance.view_heartbeat"):
        from maintenance.models import Heartbeat

        beat = Heartbeat.objects.filter(name="celery").first()
        figures["heartbeat"] = beat
        figures["heartbeat_ok"] = beat is not None and beat.is_fresh
    if user.has_perm("catalog.view_product"):
        figures["low_stock"] = list(Product.objects.low_stock().order_by("stock", "name")[:20])
    return figures
