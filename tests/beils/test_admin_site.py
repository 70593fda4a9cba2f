"""The admin index is the salon's dashboard: today's bookings, revenue, open debts, low stock."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import formats, timezone, translation

from beils.admin_site import today_at_the_salon
from sales.models import DebtStatus
from tests.factories import (
    BookingFactory,
    CartFactory,
    ClientFactory,
    CompletedCartFactory,
    DebtFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


def _now_today():
    """A moment of today (local time) that is safely in the past."""
    now = timezone.localtime()
    return max(now - timedelta(minutes=1), now.replace(hour=0, minute=0, second=1, microsecond=0))


def test_the_dashboard_renders_its_four_cards(admin_browser):
    response = admin_browser.get(reverse("admin:index"))
    html = response.content.decode()
    assert response.status_code == 200
    for card in ["card-bookings", "card-revenue", "card-debts", "card-stock"]:
        assert f'id="{card}"' in html, card


def test_the_dashboard_lists_low_stock_products(admin_browser):
    ProductFactory(name="Argan oil", stock=1, min_stock=3)
    ProductFactory(name="Plenty of wax", stock=50, min_stock=3)

    response = admin_browser.get(reverse("admin:index"))

    stock_card = response.content.decode().split('id="card-stock"')[1].split("</section>")[0]
    assert "Argan oil" in stock_card
    assert "Plenty of wax" not in stock_card


def test_the_dashboard_lists_todays_bookings(admin_browser):
    client = ClientFactory(name="Lucía", surname="Martín")
    start = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    BookingFactory(client=client, start=start, end=start + timedelta(hours=1))
    BookingFactory(start=start + timedelta(days=2), end=start + timedelta(days=2, hours=1))

    response = admin_browser.get(reverse("admin:index"))

    assert [b.client for b in response.context["dashboard"]["bookings"]] == [client]
    assert "Lucía Martín" in response.content.decode()


def test_the_dashboard_shows_open_debts(admin_browser):
    DebtFactory(amount=Decimal("80.00"), remaining=Decimal("30.50"), status=DebtStatus.PARTIAL)
    DebtFactory(amount=Decimal("10.00"), remaining=Decimal("0.00"), status=DebtStatus.PAID)

    response = admin_browser.get(reverse("admin:index"))

    debts_card = response.content.decode().split('id="card-debts"')[1].split("</section>")[0]
    assert "30.50" in debts_card
    assert response.context["dashboard"]["open_debts_count"] == 1


def test_the_dashboard_shows_todays_revenue(admin_browser):
    CompletedCartFactory(total=Decimal("12.10"), completed_at=_now_today())
    CompletedCartFactory(total=Decimal("30.00"), completed_at=_now_today())
    CompletedCartFactory(total=Decimal("99.00"), completed_at=timezone.now() - timedelta(days=2))
    CartFactory(total=Decimal("55.00"))

    response = admin_browser.get(reverse("admin:index"))

    revenue_card = response.content.decode().split('id="card-revenue"')[1].split("</section>")[0]
    assert "42.10 €" in revenue_card
    assert "2 sales" in revenue_card


def test_revenue_counts_the_local_day_not_the_utc_day(admin_user):
    # 00:30 in Madrid is still yesterday in UTC.
    today = timezone.localdate()
    just_after_midnight = timezone.make_aware(
        timezone.datetime.combine(today, timezone.datetime.min.time())
    ) + timedelta(minutes=30)
    CompletedCartFactory(total=Decimal("20.00"), completed_at=just_after_midnight)
    if just_after_midnight > timezone.now():
        pytest.skip("the test ran in the first half hour of the day")

    figures = today_at_the_salon(admin_user)

    assert figures["revenue"] == Decimal("20.00")
    assert figures["sales_count"] == 1


def test_the_dashboard_figures_are_decimal(admin_user):
    figures = today_at_the_salon(admin_user)
    assert figures["revenue"] == Decimal("0.00") and isinstance(figures["revenue"], Decimal)
    assert figures["open_debts_total"] == Decimal("0.00") and isinstance(figures["open_debts_total"], Decimal)


def test_the_dashboard_escapes_client_names(admin_browser):
    start = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    BookingFactory(client=ClientFactory(name="<b>Eve</b>", surname=None), start=start, end=start + timedelta(hours=1))
    html = admin_browser.get(reverse("admin:index")).content.decode()
    assert "<b>Eve</b>" not in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html


def test_a_logged_out_visitor_is_sent_to_the_login_page(anonymous_browser):
    response = anonymous_browser.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_site_root_leads_to_the_admin(anonymous_browser):
    response = anonymous_browser.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_the_dashboard_speaks_the_users_language(admin_user, admin_browser):
    CompletedCartFactory(total=Decimal("1234.50"), completed_at=_now_today())
    DebtFactory(amount=Decimal("80.00"), remaining=Decimal("30.50"), status=DebtStatus.PARTIAL)
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])

    html = admin_browser.get(reverse("admin:index")).content.decode()

    assert "Hoy en el salón" in html
    assert "1\xa0234,50 €" in html.split('id="card-revenue"')[1].split("</section>")[0]
    assert "30,50 €" in html.split('id="card-debts"')[1].split("</section>")[0]
    with translation.override("es"):
        assert formats.date_format(timezone.localdate(), "DATE_FORMAT") in html  # "3 de diciembre de 2026"
