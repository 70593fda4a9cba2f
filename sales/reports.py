"""The sales reports shown in the admin: every figure is a SQL aggregate (GROUP BY in the
database), never a Python loop over sales."""

from datetime import date, timedelta

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from beils.lib.dates import day_bounds
from beils.lib.money import ZERO
from sales.models import Cart, CartItem, CartStatus, Payment, PaymentMethod


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def revenue_by_day(*, start: date, days: int) -> list[dict]:
    """Revenue and number of sales per local day, with empty days as zero."""
    tz = timezone.get_current_timezone()
    rows = (
        Cart.objects.completed_between(*day_bounds(start, days))
        .annotate(day=TruncDate("completed_at", tzinfo=tz))
        .values("day")
        .annotate(revenue=Sum("total"), sales=Count("pk"))
        .order_by("day")
    )
    found = {row["day"]: row for row in rows}
    every_day = (start + timedelta(days=n) for n in range(days))
    return [{"day": d, "revenue": found.get(d, {}).get("revenue") or ZERO, "sales": found.get(d, {}).get("sales", 0)}
            for d in every_day]  # fmt: skip


def revenue_by_month(*, today: date, months: int) -> list[dict]:
    tz = timezone.get_current_timezone()
    first = _month_start(today, months - 1)
    end = _month_start(today, -1)
    rows = (
        Cart.objects.completed_between(day_bounds(first)[0], day_bounds(end)[0])
        .annotate(month=TruncMonth("completed_at", tzinfo=tz))
        .values("month")
        .annotate(revenue=Sum("total"), sales=Count("pk"))
        .order_by("month")
    )
    found = {(row["month"].year, row["month"].month): row for row in rows}
    result = []
    for n in range(months - 1, -1, -1):
        month = _month_start(today, n)
        row = found.get((month.year, month.month), {})
        result.append({"month": month, "revenue": row.get("revenue") or ZERO, "sales": row.get("sales", 0)})
    return result


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
    return [{**row, "label": str(labels.get(row["method"], row["method"]))} for row in rows]


def top_sellers(*, target: str, start, end, limit: int = 10) -> list[dict]:
    """The ``limit`` services or products (``target``) that brought in most in the period."""
    return list(
        CartItem.objects.filter(
            Q(**{f"{target}__isnull": False}),
            cart__status=CartStatus.COMPLETED,
            cart__completed_at__gte=start,
            cart__completed_at__lt=end,
        )
        .values(f"{target}_id", name_now=F(f"{target}__name"))
        .annotate(quantity=Sum("quantity"), revenue=Sum("gross"))
        .order_by("-revenue", "name_now")[:limit]
    )


def sales_report(*, today: date, days: int = 30, months: int = 12) -> dict:
    start = today - timedelta(days=days - 1)
    period = day_bounds(start, days)
    by_day = revenue_by_day(start=start, days=days)
    return {
        "start": start,
        "end": today,
        "by_day": by_day,
        "by_month": revenue_by_month(today=today, months=months),
        "by_method": revenue_by_payment_method(start=period[0], end=period[1]),
        "top_services": top_sellers(target="service", start=period[0], end=period[1]),
        "top_products": top_sellers(target="product", start=period[0], end=period[1]),
        "revenue": sum((row["revenue"] for row in by_day), ZERO),
        "sales": sum(row["sales"] for row in by_day),
    }


def chart_data(report: dict) -> dict:
    """The report's series as the charts read them (``json_script``-safe: strings and numbers)."""
    return {
        "days": [row["day"].strftime("%d/%m") for row in report["by_day"]],
        "day_revenue": [str(row["revenue"]) for row in report["by_day"]],
        "months": [row["month"].strftime("%m/%Y") for row in report["by_month"]],
        "month_revenue": [str(row["revenue"]) for row in report["by_month"]],
        "methods": [row["label"] for row in report["by_method"]],
        "method_amounts": [str(row["amount"]) for row in report["by_method"]],
    }
