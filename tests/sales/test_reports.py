"""The sales reports group sales by the salon's local days and months, worked out in Python: the
database compares plain datetimes and converts no time zone (issue 17)."""

from datetime import date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sales.models import Cart
from sales.reports import revenue_by_day, revenue_by_month, sales_report
from sales.services import LineRequest, PaymentRequest, cart_checkout
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db
MADRID = ZoneInfo("Europe/Madrid")


def sale_at(local: datetime, amount: str) -> None:
    service = ServiceFactory(price=D(amount))
    cart = cart_checkout(lines=[LineRequest(service=service)], payments=[PaymentRequest("CASH", D(amount))]).cart
    Cart.objects.filter(pk=cart.pk).update(completed_at=local.replace(tzinfo=MADRID))


@pytest.fixture
def around_midnight_and_dst(settings):
    settings.TIME_ZONE = "Europe/Madrid"
    sale_at(datetime(2026, 3, 28, 23, 30), "10.00")  # Saturday night, UTC+1: 22:30 UTC
    sale_at(datetime(2026, 3, 29, 0, 30), "20.00")  # Sunday just after midnight (clocks go forward at 02:00)
    sale_at(datetime(2026, 3, 29, 3, 0), "30.00")  # after the change, UTC+2: 01:00 UTC, still Sunday
    sale_at(datetime(2026, 3, 31, 23, 59), "40.00")  # March in Madrid, 21:59 UTC
    sale_at(datetime(2026, 4, 1, 0, 10), "50.00")  # April in Madrid, still 31 March in UTC


def test_sales_fall_on_the_salons_local_day_across_midnight_and_the_clock_change(around_midnight_and_dst):
    days = {row["day"]: (row["revenue"], row["sales"]) for row in revenue_by_day(start=date(2026, 3, 27), days=7)}
    assert days == {
        date(2026, 3, 27): (D("0"), 0),
        date(2026, 3, 28): (D("10.00"), 1),
        date(2026, 3, 29): (D("50.00"), 2),
        date(2026, 3, 30): (D("0"), 0),
        date(2026, 3, 31): (D("40.00"), 1),
        date(2026, 4, 1): (D("50.00"), 1),
        date(2026, 4, 2): (D("0"), 0),
    }


def test_sales_fall_on_the_salons_local_month(around_midnight_and_dst):
    months = revenue_by_month(today=date(2026, 4, 5), months=3)
    assert [(m["month"], m["revenue"], m["sales"]) for m in months] == [
        (date(2026, 2, 1), D("0"), 0),
        (date(2026, 3, 1), D("100.00"), 4),
        (date(2026, 4, 1), D("50.00"), 1),
    ]


def test_the_report_converts_no_time_zone_in_the_database(around_midnight_and_dst):
    with CaptureQueriesContext(connection) as queries:
        report = sales_report(today=date(2026, 4, 5))
    assert (report["revenue"], report["sales"]) == (D("150.00"), 5)
    assert sum(m["sales"] for m in report["by_month"]) == 5
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert "CONVERT_TZ" not in sql and "DJANGO_DATETIME_CAST" not in sql
    # days, months, payment methods, the lines of services and products, the services' names (no products)
    assert len(queries) == 5


def test_the_reports_page_is_computed_once_per_period_says_when_and_refreshes_on_demand(admin_browser):
    url = "/admin/sales/cart/reports/"
    first = admin_browser.get(url)
    assert first.context["report"]["sales"] == 0
    assert "Figures as of" in first.content.decode() and 'href="?refresh=1"' in first.content.decode()

    sale_at(timezone.localtime().replace(tzinfo=None, microsecond=0), "25.00")
    with CaptureQueriesContext(connection) as queries:
        cached = admin_browser.get(url)
    assert cached.context["report"]["sales"] == 0  # the figures of the first load, as the page says
    assert not [q for q in queries.captured_queries if "sales_cart" in q["sql"]]

    refreshed = admin_browser.get(url + "?refresh=1")
    assert (refreshed.context["report"]["sales"], refreshed.context["report"]["revenue"]) == (1, D("25.00"))
    assert refreshed.context["report"]["as_of"] >= cached.context["report"]["as_of"]


def test_no_cache_when_the_period_is_zero(admin_browser, settings):
    settings.SALES_REPORT_CACHE_SECONDS = 0
    assert admin_browser.get("/admin/sales/cart/reports/").context["report"]["sales"] == 0
    sale_at(timezone.localtime().replace(tzinfo=None, microsecond=0), "25.00")
    assert admin_browser.get("/admin/sales/cart/reports/").context["report"]["sales"] == 1
