"""Small helpers shared by the admin tests."""

import functools

from django.db import connection
from django.urls import reverse

TIME_ZONE_TABLES_MISSING = (
    "MariaDB has no time zone tables (CONVERT_TZ returns NULL): Django's date_hierarchy and __date "
    "lookups on DateTimeFields need them with USE_TZ. Load them with "
    "`mariadb-tzinfo-to-sql /usr/share/zoneinfo | mariadb -u root mysql`."
)


@functools.cache
def database_converts_time_zones() -> bool:
    """True unless the server is MySQL/MariaDB without time zone tables.

    Asked on a connection of its own, so that it can be evaluated in an ``xfail`` condition,
    before pytest-django allows database access.
    """
    if connection.vendor != "mysql":
        return True
    import MySQLdb

    params = {**connection.get_connection_params()}
    params.pop("database", None)  # the test database may not exist yet; the server is enough
    server = MySQLdb.connect(**params)
    try:
        cursor = server.cursor()
        cursor.execute("SELECT CONVERT_TZ('2000-01-01 12:00:00', 'UTC', 'Europe/Madrid')")
        return cursor.fetchone()[0] is not None
    finally:
        server.close()


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def inline_management_data(response) -> dict:
    """Empty management-form data for every inline of an admin add/change page."""
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


def changelist_rows(response) -> list:
    return list(response.context["cl"].result_list)


def issue_token(user) -> str:
    """A new API token's secret for ``user``, even a switched-off one (to prove it is refused).

    Straight from the model, not ``api_token_issue``: the service refuses deactivated accounts
    and audits, which would add entries to tests about something else."""
    from crm.models import ApiToken

    return ApiToken.objects.create(user=user)[1]


def api_as(user):
    """A DRF test client authenticated as ``user`` with a Bearer token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user)}")
    return client
