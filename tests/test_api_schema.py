"""The API against its own OpenAPI schema: schemathesis generates requests from ``/api/schema``
(GET, POST, PUT, PATCH and DELETE on every resource) and no answer may be a server error.

Bounded to a few examples per operation so that the whole fuzz stays well under two minutes.
"""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from beils.wsgi import application
from tests.factories import (
    BookingItemFactory,
    CartItemFactory,
    ClientBonusFactory,
    ConsentFactory,
    DebtFactory,
    GiftCardFactory,
    InvoiceFactory,
    PackItemFactory,
    PaymentFactory,
    ProductFactory,
    QuestionnaireFactory,
    RevokeFactory,
)
from tests.helpers import issue_token


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Django's test client does the same: a real WSGI call closes "old" connections when the
    request ends, which would close the test's transaction under it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def load_schema():
    """The schema ``/api/schema`` serves, generated in-process: tests are collected before the
    database (and a host to call the app by) exist. ``schemathesis.pytest.from_fixture``, which
    would load it over WSGI inside a test, does not work with pytest 9 (it sets ``Node._nodeid``)."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(generated)))
    loaded.app = application
    # Starting a real backup is the maintenance tests' business.
    return loaded.exclude(path_regex=r"^/api/maintenance/", method=["POST"])


schema = load_schema()


@pytest.fixture(params=["admin_user", "staff_user"], ids=["ADMIN", "STAFF"])
def caller(request, db):
    """The fuzz runs once with an ADMIN's token and once with a STAFF member's: a refusal of the
    less privileged role (403, a form it may not send) must be a 4xx too."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def bearer(db, settings, caller, wsgi_keeps_the_test_connection) -> dict:
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    # Some rows of every kind, so that generated ids sometimes hit real records.
    for factory in (
        ProductFactory,
        PackItemFactory,
        CartItemFactory,
        PaymentFactory,
        DebtFactory,
        InvoiceFactory,
        BookingItemFactory,
        ClientBonusFactory,
        GiftCardFactory,
        ConsentFactory,
        RevokeFactory,
        QuestionnaireFactory,
    ):
        factory()
    return {"Authorization": f"Bearer {issue_token(caller)}"}


FUZZ = {"deadline": None, "phases": [Phase.explicit, Phase.generate], "suppress_health_check": list(HealthCheck)}


def call(case, bearer, caller):
    if case.path == "/api/users/{id}" and case.method in ("PUT", "PATCH", "DELETE"):
        # The caller must stay able to call the API: their own account is left alone.
        case.path_parameters = {**(case.path_parameters or {}), "id": caller.pk + 1000}
    case.call_and_validate(headers=bearer, checks=[not_a_server_error])


@pytest.mark.slow
@schema.include(method="GET").parametrize()
@settings(max_examples=12, **FUZZ)
def test_no_read_the_schema_allows_makes_the_server_fail(case, bearer, caller):
    call(case, bearer, caller)


@pytest.mark.slow
@schema.exclude(method="GET").parametrize()
@settings(max_examples=6, **FUZZ)
def test_no_write_the_schema_allows_makes_the_server_fail(case, bearer, caller):
    call(case, bearer, caller)
