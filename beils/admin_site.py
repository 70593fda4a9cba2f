import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from beils.lib.dates import day_bounds


@dataclass(frozen=True)
class Link:
    """A screen that is not a model's list (the calendar, today's sales), shown in a section
    beside the models for people allowed to see it."""

    key: str
    name: str
    url_name: str
    perm: str
    query: Callable[[], dict] | None = None  # the query string's parameters, computed per request

    def url(self) -> str:
        url = reverse(self.url_name)
        return f"{url}?{urlencode(self.query())}" if self.query else url


def _today_bookings():
    return {"when": "today"}


def _today_sales():
    today = timezone.localdate()
    return {"completed_at__year": today.year, "completed_at__month": today.month, "completed_at__day": today.day}


def _gdpr_erasures():
    return {"action": "crm.client.erased"}  # crm.erasure.ERASED_ACTION (beils imports no app)


SYSTEM = "system"
# The admin index and its sidebar as the salon thinks, top to bottom: section key, heading and
# what it holds (model labels and links), in the order shown. A registered model missing here
# is listed under System (tests/beils/test_navigation.py fails for one of Beils' own models).
SECTIONS = [
    ("today", pgettext_lazy("admin section", "Today"), [
        Link("today-bookings", pgettext_lazy("admin section", "Bookings today"),
             "admin:bookings_booking_changelist", "bookings.view_booking", _today_bookings),
        Link("calendar", pgettext_lazy("admin section", "Calendar"),
             "admin:bookings_booking_calendar", "bookings.view_booking"),
        Link("today-sales", pgettext_lazy("admin section", "Sales of the day"),
             "admin:sales_cart_changelist", "sales.view_cart", _today_sales),
        "bookings.Booking", "bookings.BookingItem",
    ]),
    ("clients", pgettext_lazy("admin section", "Clients"), [
        "crm.Client", "crm.Consent", "crm.Revoke", "crm.Questionnaire", "crm.ClientMergeRecord",
    ]),
    ("sales", pgettext_lazy("admin section", "Sales"), [
        "sales.Cart", "sales.CartItem", "sales.Payment", "sales.Debt", "sales.DebtPayment", "sales.Invoice",
        "sales.InvoiceSequence",
        Link("reports", pgettext_lazy("admin section", "Reports"), "admin:sales_cart_reports", "sales.report_sales"),
    ]),
    ("catalogue", pgettext_lazy("admin section", "Catalogue"), [
        "catalog.Service", "catalog.Product", "catalog.Pack", "catalog.PackItem", "catalog.Category",
        "catalog.Subcategory", "catalog.Brand", "catalog.Tag",
    ]),
    ("marketing", pgettext_lazy("admin section", "Marketing"), [
        "marketing.Bonus", "marketing.ClientBonus", "marketing.BonusRedemption", "marketing.GiftCard",
        "marketing.GiftCardMovement", "marketing.Coupon",
    ]),
    ("data-care", pgettext_lazy("admin section", "Data care"), [
        Link("maintenance-dashboard", pgettext_lazy("admin section", "Maintenance dashboard"),
             "admin:maintenance_dashboard", "backups.view_backup"),
        "backups.Backup", "backups.RestoreDrill", "transfer.Job", "transfer.SavedMapping", "sales.ArchivedCart", "maintenance.LifecycleRun",
        "maintenance.RetentionPolicy", "maintenance.ForgettableClient", "maintenance.Alert", "audit.AuditEntry",
        Link("gdpr-erasures", pgettext_lazy("admin section", "GDPR erasures"),
             "admin:audit_auditentry_changelist", "audit.view_auditentry", _gdpr_erasures),
    ]),
    (SYSTEM, pgettext_lazy("admin section", "System"), [
        "crm.User", "auth.Group", "crm.ApiToken", "axes.AccessAttempt", "axes.AccessFailureLog", "axes.AccessLog",
        "django_celery_beat.PeriodicTask", "django_celery_beat.CrontabSchedule",
        "django_celery_beat.IntervalSchedule", "django_celery_beat.ClockedSchedule",
        "django_celery_beat.SolarSchedule", "maintenance.Heartbeat", "maintenance.ScheduleSlot",
        "legacy.LegacyImportRun", "legacy.LegacyInvoice",
    ]),
]  # fmt: skip
PLACED = {entry for _key, _name, entries in SECTIONS for entry in entries if isinstance(entry, str)}


class BeilsAdminSite(admin.AdminSite):
    site_header = _("Beils")
    site_title = _("Beils back office")
    index_title = _("Today at the salon")
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

    def get_app_list(self, request, app_label=None):
        """The index and the sidebar in the salon's sections (``SECTIONS``), not Django's one box
        per app; an app's own page (``app_label``) stays Django's."""
        if app_label:
            return super().get_app_list(request, app_label)
        return sections(request, self._build_app_dict(request))


def sections(request, app_dict: dict) -> list[dict]:
    """Regroup Django's ``{app_label: app}`` into the sections of ``SECTIONS``, each shaped as
    Django's app (``name``, ``app_label``, ``models``) so that its templates list them as they are.
    A section the user can see nothing in is left out."""
    rows = {}
    for app in app_dict.values():
        for row in app["models"]:
            meta = row["model"]._meta
            rows[meta.label] = {**row, "row_id": f"{meta.app_label}-{meta.model_name}"}
    result = []
    for key, name, entries in SECTIONS:
        found = [row for entry in entries if (row := _row(request, entry, rows)) is not None]
        if key == SYSTEM:
            found += [rows[label] for label in sorted(rows.keys() - PLACED)]
        if found:
            result.append({"name": name, "app_label": key, "app_url": "", "has_module_perms": True, "models": found})
    return result


def _row(request, entry, rows: dict) -> dict | None:
    if isinstance(entry, str):
        return rows.get(entry)
    if not request.user.has_perm(entry.perm):
        return None
    try:
        url = entry.url()
    except NoReverseMatch:  # the screen's app is not installed
        return None
    return {"name": entry.name, "object_name": entry.key, "row_id": f"link-{entry.key}", "admin_url": url,
            "add_url": None, "perms": {"view": True}, "view_only": True, "link": True}  # fmt: skip


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
