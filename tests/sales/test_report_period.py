"""The reports page for a chosen period: validated dates, the team's figures, client retention,
every table as CSV (formulas escaped), one cached report per period, and only for the roles
that may see sales reports (MANAGER and ADMIN)."""

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from sales.models import Cart
from sales.reports import client_retention, report_cache_key, revenue_by_staff, sales_report_cached
from sales.services import LineRequest, PaymentRequest, cart_checkout
from tests.factories import BookingFactory, ClientFactory, ProductFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/admin/sales/cart/reports/"
MADRID = ZoneInfo("Europe/Madrid")


def sale_on(day: date, *, price="10.00", client=None, actor=None, booking=None, quantity=1, service=None):
    service = service or ServiceFactory(price=D(price))
    total = D(price) * quantity
    cart = cart_checkout(
        lines=[LineRequest(service=service, quantity=quantity)], payments=[PaymentRequest("CASH", total)],
        client=client, actor=actor, booking=booking,
    ).cart  # fmt: skip
    Cart.objects.filter(pk=cart.pk).update(
        completed_at=datetime.combine(day, datetime.min.time(), MADRID).replace(hour=11)
    )
    return cart


@pytest.fixture(autouse=True)
def _madrid(settings):
    settings.TIME_ZONE = "Europe/Madrid"


def test_revenue_and_services_are_counted_per_staff_member_booking_first():
    ana, bea = UserFactory(name="Ana", surname="López"), UserFactory(name="Bea", surname="Ruiz")
    day = date(2026, 3, 10)
    sale_on(day, price="30.00", actor=ana, quantity=2)  # rung up by Ana
    sale_on(day, price="19.90", actor=ana, booking=BookingFactory(staff=bea))  # Bea did the work
    sale_on(day, price="0.10", actor=bea)
    sale_on(day + timedelta(days=40), price="99.00", actor=bea)  # outside the period
    start, end = timezone.make_aware(datetime(2026, 3, 1)), timezone.make_aware(datetime(2026, 4, 1))
    rows = {
        row["name"]: (row["revenue"], row["sales"], row["services"]) for row in revenue_by_staff(start=start, end=end)
    }
    assert rows == {"Ana López": (D("60.00"), 1, 2), "Bea Ruiz": (D("20.00"), 2, 2)}


def test_retention_is_the_share_of_the_periods_clients_who_came_back_within_90_days():
    loyal, once, late, walk_in = ClientFactory(), ClientFactory(), ClientFactory(), None
    sale_on(date(2026, 3, 5), client=loyal)
    sale_on(date(2026, 5, 20), client=loyal)  # 76 days later: came back
    sale_on(date(2026, 3, 6), client=once)
    sale_on(date(2026, 3, 7), client=late)
    sale_on(date(2026, 7, 1), client=late)  # 116 days later: too late
    sale_on(date(2026, 3, 8), client=walk_in)
    start, end = timezone.make_aware(datetime(2026, 3, 1)), timezone.make_aware(datetime(2026, 4, 1))
    assert client_retention(start=start, end=end) == {"clients": 3, "returned": 1, "share": pytest.approx(1 / 3)}


def test_no_clients_means_no_retention_figure():
    start, end = timezone.make_aware(datetime(2026, 3, 1)), timezone.make_aware(datetime(2026, 4, 1))
    assert client_retention(start=start, end=end) == {"clients": 0, "returned": 0, "share": None}


def test_the_page_reports_the_chosen_period(manager_browser):
    today = timezone.localdate()
    sale_on(today - timedelta(days=60), price="45.50", client=ClientFactory())
    sale_on(today, price="10.00")
    start = (today - timedelta(days=90)).isoformat()
    end = (today - timedelta(days=31)).isoformat()
    response = manager_browser.get(URL, {"start": start, "end": end})
    assert response.status_code == 200
    report = response.context["report"]
    assert (report["start"].isoformat(), report["end"].isoformat()) == (start, end)
    assert (report["sales"], report["revenue"]) == (1, D("45.50"))
    assert len(report["by_day"]) == 60
    assert report["retention"]["clients"] == 1
    # Links keep the period.
    assert f"start={start}&amp;end={end}&amp;export=staff" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"start": "2026-02-30"}, "Enter a valid date."),
        ({"start": "yesterday", "end": "2026-01-01"}, "Enter a valid date."),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The period starts after it ends"),
        ({"start": "2024-01-01", "end": "2025-06-30"}, "at most 366 days"),
        ({"start": (date.today() + timedelta(days=400)).isoformat()}, "starts in the future"),
    ],
    ids=["no such day", "not a date", "backwards", "too long", "future"],
)
def test_a_bad_period_is_a_form_error_and_the_default_period_is_shown(manager_browser, params, error):
    response = manager_browser.get(URL, params)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert response.context["report"]["start"] == timezone.localdate() - timedelta(days=29)


def test_a_bad_period_is_refused_in_spanish_too(manager_user, manager_browser):
    manager_user.language = "es"
    manager_user.save(update_fields=["language"])
    response = manager_browser.get(URL, {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 200
    assert "El periodo empieza después de terminar" in response.content.decode()


def test_each_period_is_cached_on_its_own(manager_browser):
    today = timezone.localdate()
    manager_browser.get(URL)
    manager_browser.get(URL, {"start": (today - timedelta(days=6)).isoformat(), "end": today.isoformat()})
    default = report_cache_key(today)
    week = report_cache_key(today, today - timedelta(days=6), today)
    assert default != week
    sale_on(today, price="12.00")
    # Each period keeps its own figures until refreshed.
    assert sales_report_cached(today=today)["sales"] == 0
    assert sales_report_cached(today=today, start=today - timedelta(days=6), end=today)["sales"] == 0
    assert sales_report_cached(today=today, start=today - timedelta(days=6), end=today, refresh=True)["sales"] == 1


@pytest.mark.parametrize("table", ["days", "months", "methods", "services", "products", "staff"])
def test_every_table_downloads_as_csv_and_the_export_is_audited(manager_user, manager_browser, table):
    sale_on(timezone.localdate(), price="19.90", actor=manager_user)
    response = manager_browser.get(URL, {"export": table, "refresh": "1"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"sales-{table}-" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) >= 2 if table != "products" else len(rows) == 1
    entry = AuditEntry.objects.filter(action="sales.report.exported").latest("pk")
    assert entry.actor == manager_user and entry.detail["table"] == table


def test_the_csv_escapes_names_a_spreadsheet_would_run_and_keeps_two_decimals(manager_browser):
    today = timezone.localdate()
    product = ProductFactory(name='=HYPERLINK("http://evil.example")', price=D("19.90"), stock=5)
    for price in ("19.90", "39.90", "0.10"):
        sale_on(today, price=price, service=ServiceFactory(name="@SUM(A1)", price=D(price)))
    cart_checkout(lines=[LineRequest(product=product)], payments=[PaymentRequest("CASH", D("19.90"))])
    services = list(csv.reader(io.StringIO(manager_browser.get(URL, {"export": "services"}).content.decode())))
    assert services[0] == ["service_id", "name_now", "quantity", "revenue"]
    assert {row[1] for row in services[1:]} == {"'@SUM(A1)"}
    assert sorted(row[3] for row in services[1:]) == ["0.10", "19.90", "39.90"]
    products = list(csv.reader(io.StringIO(manager_browser.get(URL, {"export": "products"}).content.decode())))
    assert products[1][1] == '\'=HYPERLINK("http://evil.example")'
    days = list(csv.reader(io.StringIO(manager_browser.get(URL, {"export": "days"}).content.decode())))
    assert days[-1] == [today.isoformat(), "4", "79.80"]


def test_an_unknown_table_is_not_found(manager_browser):
    assert manager_browser.get(URL, {"export": "clients"}).status_code == 404


@pytest.mark.parametrize(("who", "status"), [("admin", 200), ("manager", 200), ("staff", 403)])
def test_only_managers_and_admins_see_the_reports_and_their_csv(request, who, status):
    browser = request.getfixturevalue(f"{who}_browser")
    assert browser.get(URL).status_code == status
    assert browser.get(URL, {"export": "staff"}).status_code == status
    assert browser.get(URL, {"start": "2026-01-01", "end": "2026-01-31"}).status_code == status
