"""The admin index and its sidebar in the salon's sections (beils.admin_site.SECTIONS): Today,
Clients, Sales, Catalogue, Marketing, Data care, and the plumbing under System."""

import re

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from beils.admin_site import PLACED, SECTIONS, sections
from beils.lib.models import project_models
from tests.factories import CompletedCartFactory

pytestmark = pytest.mark.django_db

HEADINGS = ["Today", "Clients", "Sales", "Catalogue", "Marketing", "Data care", "System"]
HEADINGS_ES = ["Hoy", "Clientes", "Ventas", "Catálogo", "Marketing", "Cuidado de los datos", "Sistema"]


def headings(html: str, where: str = "content-main") -> list[str]:
    part = html.split(f'id="{where}"', 1)[1]
    if where == "nav-sidebar":
        part = part.split("</nav>", 1)[0]
    return [h.strip() for h in re.findall(r'<span class="section">([^<]*)</span>', part)]


def test_every_model_of_beils_has_a_section():
    registered = {model._meta.label for model in admin.site._registry}
    own = {model._meta.label for model in project_models()}
    assert sorted((registered & own) - PLACED) == [], "add them to beils.admin_site.SECTIONS"


def test_the_sections_name_only_registered_models():
    registered = {model._meta.label for model in admin.site._registry}
    assert sorted(PLACED - registered) == []


def test_each_model_is_in_one_section_only():
    labels = [entry for _key, _name, entries in SECTIONS for entry in entries if isinstance(entry, str)]
    assert len(labels) == len(set(labels))


def test_a_model_missing_from_the_table_falls_into_system(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    stray = {"model": ContentType, "name": "content types", "object_name": "ContentType", "admin_url": "/x/"}
    app_list = sections(request, {"contenttypes": {"models": [stray]}})
    assert app_list[-1]["app_label"] == "system"
    assert [row["row_id"] for row in app_list[-1]["models"]] == ["contenttypes-contenttype"]


def test_the_index_shows_the_sections_in_the_salons_order(admin_browser):
    html = admin_browser.get(reverse("admin:index")).content.decode()
    assert headings(html) == HEADINGS
    # Rows keep their model's id, wherever their section.
    assert 'id="crm-client"' in html and 'id="axes-accessattempt"' in html


def test_the_sidebar_follows_the_same_sections(admin_browser):
    html = admin_browser.get(reverse("admin:crm_client_changelist")).content.decode()
    assert headings(html, "nav-sidebar") == HEADINGS


def test_the_sections_speak_spanish(admin_user, admin_browser):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    html = admin_browser.get(reverse("admin:index")).content.decode()
    assert headings(html) == HEADINGS_ES
    assert "Hoy en el salón" in html


def test_today_leads_to_todays_bookings_calendar_and_sales(admin_browser):
    CompletedCartFactory(completed_at=timezone.now())
    html = admin_browser.get(reverse("admin:index")).content.decode()
    today = html.split('id="section-today"', 1)[1].split("</table>", 1)[0]
    assert f'href="{reverse("admin:bookings_booking_changelist")}?when=today"' in today
    assert f'href="{reverse("admin:bookings_booking_calendar")}"' in today
    sales_link = re.search(r'id="link-today-sales">\s*<a href="([^"]+)"', today).group(1).replace("&amp;", "&")
    response = admin_browser.get(sales_link)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_data_care_leads_to_the_dashboard_and_the_gdpr_erasures(admin_browser):
    html = admin_browser.get(reverse("admin:index")).content.decode()
    care = html.split('id="section-data-care"', 1)[1].split("</table>", 1)[0]
    assert f'href="{reverse("admin:maintenance_dashboard")}"' in care
    erasures = re.search(r'id="link-gdpr-erasures">\s*<a href="([^"]+)"', care).group(1)
    assert admin_browser.get(erasures).status_code == 200


def test_staff_see_only_the_sections_they_may_use(staff_browser):
    html = staff_browser.get(reverse("admin:index")).content.decode()
    assert headings(html)[:1] == ["Today"]
    assert 'id="link-calendar"' in html
    assert 'id="link-reports"' not in html  # the sales reports are for managers


def test_an_apps_own_page_stays_djangos(admin_browser):
    response = admin_browser.get(reverse("admin:app_list", args=["crm"]))
    assert response.status_code == 200
    assert [app["app_label"] for app in response.context["app_list"]] == ["crm"]


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_section_names_are_translated(language):
    with translation.override(language):
        names = [str(name) for _key, name, _entries in SECTIONS]
    assert names == (HEADINGS if language == "en" else HEADINGS_ES)


def test_the_favicon_is_found_where_browsers_look_for_it(client):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("/beils/favicon.svg")
    assert finders.find("beils/favicon.svg")  # collected by collectstatic (STATICFILES_DIRS)
