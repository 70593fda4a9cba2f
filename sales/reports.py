"""The sales reports shown in the admin: every figure is a SQL aggregate (GROUP BY in the
database), never a Python loop over sales."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Case, Count, Exists, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format

from beils.lib.dates import day_bounds
from beils.lib.money import ZERO, round_money
from beils.lib.spreadsheets import escape_formula
from sales.models import Cart, CartItem, CartStatus, Payment, PaymentMethod

#: The page's period when none is chosen: the last 30 days, today included.
DEFAULT_DAYS = 30
#: The longest period the page reports on (a year, leap day included): one bar per day.
MAX_DAYS = 366
#: A client "came back" with another sale within this many days of one in the period.
RETENTION_DAYS = 90


def default_range(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _totals_between(edges: list[datetime]) -> list[dict]:
    """Revenue and number of completed sales in each interval [edges[i], edges[i + 1]).

    One pass over the ``(status, completed_at, total)`` index. Each sale's interval is a CASE of
    plain datetime comparisons against bounds worked out in Python, where grouping by
    ``TruncDate(…, tzinfo)`` converted the time zone of every sale (``CONVERT_TZ``): 171 against
    220 ms for a year of a big salon's sales, measured interleaved, and no need for MariaDB's
    time-zone tables."""
    interval = Case(*(When(completed_at__lt=edge, then=Value(i)) for i, edge in enumerate(edges[1:])))
    rows = (
        Cart.objects.completed_between(edges[0], edges[-1])
        .annotate(interval=interval)
        .values("interval")
        .annotate(revenue=Sum("total"), sales=Count("pk"))
        .order_by()
    )
    found = {row["interval"]: row for row in rows}
    return [
        {"revenue": found.get(i, {}).get("revenue") or ZERO, "sales": found.get(i, {}).get("sales", 0)}
        for i in range(len(edges) - 1)
    ]


def revenue_by_day(*, start: date, days: int) -> list[dict]:
    """Revenue and number of sales per local day, with empty days as zero."""
    every_day = [start + timedelta(days=n) for n in range(days)]
    edges = [day_bounds(d)[0] for d in every_day] + [day_bounds(start, days)[1]]
    return [{"day": d, **totals} for d, totals in zip(every_day, _totals_between(edges), strict=True)]


def revenue_by_month(*, today: date, months: int) -> list[dict]:
    firsts = [_month_start(today, n) for n in range(months - 1, -1, -1)]
    edges = [day_bounds(first)[0] for first in [*firsts, _month_start(today, -1)]]
    return [{"month": m, **totals} for m, totals in zip(firsts, _totals_between(edges), strict=True)]


def revenue_by_payment_method(*, start, end) -> list[dict]:
    rows = list(
        Payment.objects.filter(
            cart__status=CartStatus.COMPLETED, cart__completed_at__gte=start, cart__completed_at__lt=end
        )
        .values("method")
        .annotate(amount=Sum("amount"), payments=Count("pk"))
        .order_by("-amount", "method")
    )
    labels = dict(PaymentMethod.choices)
    # The label stays lazy: a cached report is read in each reader's language.
    return [{**row, "label": labels.get(row["method"], row["method"])} for row in rows]


def top_sellers(*, start, end, limit: int = 10) -> dict[str, list[dict]]:
    """The ``limit`` services and the ``limit`` products that brought in most in the period.

    One pass over the period's lines for both, summed by id and named afterwards: joining the
    catalogue for the name let MariaDB read every line of every service from the catalogue's
    side (1.1 s at 340 000 lines) instead of the period's sales first, and each list was a pass
    of its own (90 ms each over a month of a big salon's sales)."""
    sums = list(
        CartItem.objects.filter(
            Q(service__isnull=False) | Q(product__isnull=False),
            cart__status=CartStatus.COMPLETED,
            cart__completed_at__gte=start,
            cart__completed_at__lt=end,
        )
        .values("service_id", "product_id")
        .annotate(quantity=Sum("quantity"), revenue=Sum("gross"))
        .order_by()
    )
    tops = {}
    for target in ("service", "product"):
        field = CartItem._meta.get_field(target)
        key = field.attname
        best = sorted((row for row in sums if row[key] is not None), key=lambda row: (-row["revenue"], row[key]))
        best = best[:limit]
        names = dict(
            field.related_model._base_manager.filter(pk__in=[row[key] for row in best]).values_list("pk", "name")
        )
        tops[target] = [
            {key: row[key], "name_now": names.get(row[key], ""), "quantity": row["quantity"], "revenue": row["revenue"]}
            for row in best
        ]
    return tops


def revenue_by_staff(*, start, end) -> list[dict]:
    """Revenue, sales and services sold per staff member in [start, end): the professional of
    the sale's booking, or else whoever rang the sale up. Two GROUP BYs, named afterwards."""
    sales = (
        Cart.objects.completed_between(start, end)
        .annotate(staff_id=Coalesce("booking__staff", "created_by"))
        .values("staff_id")
        .annotate(revenue=Sum("total"), sales=Count("pk"))
        .order_by()
    )
    services = (
        CartItem.objects.filter(
            service__isnull=False,
            cart__status=CartStatus.COMPLETED,
            cart__completed_at__gte=start,
            cart__completed_at__lt=end,
        )
        .annotate(staff_id=Coalesce("cart__booking__staff", "cart__created_by"))
        .values("staff_id")
        .annotate(services=Sum("quantity"))
        .order_by()
    )
    counted = {row["staff_id"]: row["services"] for row in services}
    rows = list(sales)
    names = {
        user.pk: user.get_full_name() or user.email
        for user in get_user_model()._base_manager.filter(pk__in=[r["staff_id"] for r in rows if r["staff_id"]])
    }
    table = [
        {**row, "name": names.get(row["staff_id"], ""), "services": counted.get(row["staff_id"]) or 0} for row in rows
    ]
    return sorted(table, key=lambda row: (-row["revenue"], row["name"]))


def client_retention(*, start, end) -> dict:
    """Of the clients with a sale in [start, end), how many came back: had another sale within
    ``RETENTION_DAYS`` days after one of them (a return after the period's end counts, so the
    figure for a recent period still grows). Walk-in sales have no client and do not count."""
    visits = Cart.objects.completed_between(start, end).filter(client__isnull=False)
    later = Cart.objects.completed().filter(
        client=OuterRef("client"),
        completed_at__gt=OuterRef("completed_at"),
        completed_at__lte=OuterRef("completed_at") + timedelta(days=RETENTION_DAYS),
    )
    clients = visits.values("client").distinct().count()
    returned = visits.filter(Exists(later)).values("client").distinct().count()
    return {"clients": clients, "returned": returned, "share": returned / clients if clients else None}


def sales_report(*, today: date, days: int = DEFAULT_DAYS, months: int = 12, start: date | None = None,
                 end: date | None = None) -> dict:  # fmt: skip
    """The figures of the days from ``start`` to ``end`` (both included; by default the ``days``
    days up to ``today``) and of the ``months`` months up to ``end``."""
    end = end or today
    start = start or end - timedelta(days=days - 1)
    days = (end - start).days + 1
    period = day_bounds(start, days)
    by_day = revenue_by_day(start=start, days=days)
    tops = top_sellers(start=period[0], end=period[1])
    return {
        "start": start,
        "end": end,
        "by_day": by_day,
        "by_month": revenue_by_month(today=end, months=months),
        "by_method": revenue_by_payment_method(start=period[0], end=period[1]),
        "top_services": tops["service"],
        "top_products": tops["product"],
        "revenue": sum((row["revenue"] for row in by_day), ZERO),
        "sales": sum(row["sales"] for row in by_day),
    }


def report_cache_key(today: date, start: date | None = None, end: date | None = None) -> str:
    """One cached report per period (and per day the page is read on: "today" moves the
    default period and the months)."""
    start, end = start or default_range(today)[0], end or today
    period = f"{start.isoformat()}:{end.isoformat()}"
    return f"beils:sales-report:{today.isoformat()}:{period}:{timezone.get_current_timezone_name()}"


def sales_report_cached(
    *, today: date, start: date | None = None, end: date | None = None, refresh: bool = False
) -> dict:
    """:func:`sales_report` with the team's figures and the client retention of the period
    (by default the last 30 days), computed at most once every ``SALES_REPORT_CACHE_SECONDS``
    per period for every web node (the cache is shared), with ``as_of``, when it was computed,
    for the page to say. A year of a big salon's sales is a few hundred milliseconds of
    aggregates on each load otherwise. ``refresh`` computes it again now."""
    start, end = start or default_range(today)[0], end or today
    key = report_cache_key(today, start, end)
    report = None if refresh else cache.get(key)
    if report is None:
        report = sales_report(today=today, start=start, end=end)
        period = day_bounds(start, (end - start).days + 1)
        report["by_staff"] = revenue_by_staff(start=period[0], end=period[1])
        report["retention"] = client_retention(start=period[0], end=period[1])
        report["as_of"] = timezone.now()
        cache.set(key, report, settings.SALES_REPORT_CACHE_SECONDS)
    return report


#: The report's tables as CSV: (name, the report's key, columns). Machine-readable: ISO dates,
#: amounts with a dot and two decimals, stable English headers.
CSV_TABLES = {
    "days": ("by_day", ["day", "sales", "revenue"]),
    "months": ("by_month", ["month", "sales", "revenue"]),
    "methods": ("by_method", ["method", "label", "payments", "amount"]),
    "services": ("top_services", ["service_id", "name_now", "quantity", "revenue"]),
    "products": ("top_products", ["product_id", "name_now", "quantity", "revenue"]),
    "staff": ("by_staff", ["staff_id", "name", "sales", "services", "revenue"]),
}


def csv_table(report: dict, name: str) -> list[list]:
    """The rows (header first) of one of the report's tables, for ``csv.writer``. Text a
    spreadsheet would run as a formula (a product named ``=HYPERLINK(…)``) is escaped."""
    key, columns = CSV_TABLES[name]
    rows = [columns]
    for row in report[key]:
        rows.append([_csv_value(row[column]) for column in columns])
    return rows


def _csv_value(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, float)):
        return f"{round_money(Decimal(str(value))):.2f}"
    if value is None or isinstance(value, int):
        return "" if value is None else value
    return escape_formula(str(value))


def chart_data(report: dict) -> dict:
    """The report's series as the charts read them (``json_script``-safe: strings and numbers)."""
    return {
        "days": [date_format(row["day"], "SHORT_DATE_FORMAT") for row in report["by_day"]],
        "day_revenue": [str(row["revenue"]) for row in report["by_day"]],
        "months": [date_format(row["month"], "YEAR_MONTH_FORMAT") for row in report["by_month"]],
        "month_revenue": [str(row["revenue"]) for row in report["by_month"]],
        "methods": [str(row["label"]) for row in report["by_method"]],
        "method_amounts": [str(row["amount"]) for row in report["by_method"]],
    }
