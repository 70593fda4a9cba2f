"""Uploaded files are personal data: they are served one by one to the people whose role shows the
record they belong to, never as a public directory (in development too)."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client as WebClient

from tests.factories import ProductFactory, SignedConsentFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% firma de Begona Ibanez\n%%EOF\n"


@pytest.fixture
def consent():
    consent = SignedConsentFactory(client__name="Begoña", client__surname="Ibáñez")
    consent.document.save("firma Begoña.pdf", ContentFile(PDF), save=True)
    return consent


def _url(field) -> str:
    assert field.url.startswith("/media/consents/") or field.url.startswith("/media/products/")
    return field.url


@pytest.mark.parametrize("who", ["admin_browser", "manager_browser", "staff_browser"])
def test_each_role_that_sees_consents_opens_the_signed_document(who, consent, request):
    response = request.getfixturevalue(who).get(_url(consent.document))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Cache-Control"] == "private, no-store"
    assert "filename" in response["Content-Disposition"]


def test_nobody_signed_in_is_sent_to_the_login_page(consent, anonymous_browser):
    response = anonymous_browser.get(_url(consent.document))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_switched_off_account_is_treated_as_nobody(consent, outsider):
    browser = WebClient()
    browser.force_login(outsider)
    response = browser.get(_url(consent.document))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_role_without_the_models_view_right_gets_not_found(consent, staff_user, staff_browser):
    staff_user.groups.clear()
    assert staff_browser.get(_url(consent.document)).status_code == 404


def test_product_images_follow_the_catalogue_view_right(staff_browser):
    product = ProductFactory()
    product.image.save("crema.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=True)
    assert staff_browser.get(_url(product.image)).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "jobs/1-abc/clients.csv",  # job files have their own pages, with their own rights
        "consents/../jobs/1-abc/clients.csv",
        "consents/%2e%2e/%2e%2e/beils.sqlite3",
        "consents//etc/passwd",
        "consents/no-such-file.pdf",
        "consents/\x00.pdf",
        "",
    ],
)
def test_anything_else_is_not_found_and_never_a_server_error(name, admin_browser):
    default_storage.save("jobs/1-abc/clients.csv", ContentFile(b"name\nBegona\n"))
    response = admin_browser.get("/media/" + name)
    assert response.status_code == 404


def test_only_get_and_head(consent, admin_browser):
    assert admin_browser.post(_url(consent.document)).status_code == 405
