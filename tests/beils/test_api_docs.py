"""The OpenAPI schema and its Swagger UI: open while developing, for signed-in people in production."""

import pytest
from rest_framework.test import APIClient

from tests.helpers import api_as

pytestmark = pytest.mark.django_db

PAGES = ["/api/schema", "/api/docs"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_get_no_schema_or_docs_when_debug_is_off(settings, url):
    settings.DEBUG = False
    response = APIClient().get(url)
    assert response.status_code in (302, 401, 403)
    if response.status_code == 302:
        assert response["Location"].startswith("/admin/login/")
    assert b"openapi" not in response.content.lower() and b"swagger" not in response.content.lower()


@pytest.mark.parametrize("url", PAGES)
def test_signed_in_staff_see_schema_and_docs_when_debug_is_off(settings, staff_browser, url):
    settings.DEBUG = False
    assert staff_browser.get(url).status_code == 200


def test_a_bearer_token_reads_the_schema_when_debug_is_off(settings, staff_user):
    settings.DEBUG = False
    response = api_as(staff_user).get("/api/schema")
    assert response.status_code == 200 and b"openapi" in response.content


def test_a_switched_off_account_gets_no_schema(settings, outsider):
    settings.DEBUG = False
    assert api_as(outsider).get("/api/schema").status_code == 401


@pytest.mark.parametrize("url", PAGES)
def test_schema_and_docs_stay_open_while_developing(settings, url):
    settings.DEBUG = True
    assert APIClient().get(url).status_code == 200
