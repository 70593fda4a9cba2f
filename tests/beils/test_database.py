"""What the settings ask of the database server."""

import pytest
from django.db import connection
from django.db.models.functions import TruncDate
from django.utils import timezone

from crm.models import Client
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_money_columns_are_decimal_with_cents():
    field = Client._meta.apps.get_model("sales", "Cart")._meta.get_field("total")
    assert (field.get_internal_type(), field.max_digits, field.decimal_places) == ("DecimalField", 12, 2)


@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB only")
def test_mariadb_runs_in_strict_mode_with_utf8mb4():
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode, @@character_set_connection")
        sql_mode, charset = cursor.fetchone()
    assert "STRICT_TRANS_TABLES" in sql_mode
    assert charset == "utf8mb4"


def test_the_database_converts_datetimes_to_the_salons_time_zone():
    ClientFactory()
    [day] = Client.objects.annotate(day=TruncDate("created_at")).values_list("day", flat=True)
    if day is None:  # what MariaDB answers without time zone tables
        raise ValueError("CONVERT_TZ returned NULL")
    assert day == timezone.localdate()


def test_emoji_and_accents_round_trip():
    client = ClientFactory(name="Begoña 💅", surname="Núñez")
    client.refresh_from_db()
    assert (client.name, client.surname) == ("Begoña 💅", "Núñez")
