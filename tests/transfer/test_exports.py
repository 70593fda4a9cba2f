import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections

from audit.models import AuditEntry, Outcome
from catalog.models import Product
from crm.models import Client
from marketing.models import GiftCardMovement
from tests.factories import ClientFactory, GiftCardMovementFactory, ProductFactory
from transfer.exports import ExportError, export_stream

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_csv_export_has_every_row_a_bom_and_an_audit_entry_with_its_checksum(admin_user):
    ClientFactory.create_batch(7)
    response = export_stream(Client.all_objects.order_by("pk"), fmt="csv", actor=admin_user)
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="clients_')
    data = body(response)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["email"] for r in rows] == list(Client.all_objects.order_by("pk").values_list("email", flat=True))
    entry = AuditEntry.objects.get(action="maintenance.export.done")
    assert entry.actor == admin_user
    assert entry.detail == {
        "model": "crm.Client",
        "format": "csv",
        "rows": 7,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_spreadsheet_formulas_are_escaped(admin_user):
    ClientFactory(name='=HYPERLINK("http://evil")', surname="@SUM(A1)", phone="+34 600 000 000", notes="\tx")
    rows = list(
        csv.DictReader(io.StringIO(body(export_stream(Client.all_objects.all(), fmt="csv")).decode("utf-8-sig")))
    )
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["surname"] == "'@SUM(A1)"
    assert rows[0]["phone"] == "'+34 600 000 000"
    assert rows[0]["notes"] == "'\tx"


def test_negative_amounts_are_escaped_as_text_and_dates_are_iso_with_time_zone():
    movement = GiftCardMovementFactory(amount=Decimal("-25.00"), balance_after=Decimal("25.00"))
    columns = {"id": "id", "amount": "amount", "created_at": "created_at", "card": "gift_card__code"}
    [row] = csv.DictReader(
        io.StringIO(body(export_stream(GiftCardMovement.objects.all(), fmt="csv", columns=columns)).decode("utf-8-sig"))
    )
    assert row["amount"] == "-25.00"  # numbers are not text: no quote
    assert row["card"] == movement.gift_card.code
    assert row["created_at"].endswith("+00:00") and "T" in row["created_at"]


def test_a_json_export_is_valid_json_with_typed_values():
    product = ProductFactory(price=Decimal("19.90"))
    [item] = json.loads(body(export_stream(Product.all_objects.all(), fmt="json")))
    assert item["sku"] == product.sku
    assert Decimal(str(item["price"])) == Decimal("19.90")
    assert item["created_at"].endswith("+00:00")


def test_an_abandoned_download_is_audited_as_aborted():
    ClientFactory.create_batch(3)
    response = export_stream(Client.all_objects.all(), fmt="csv")
    iterator = iter(response.streaming_content)
    next(iterator)
    # What the WSGI server does when the client goes away (without closing the test's
    # database connection, as Django's own test client also avoids).
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    entry = AuditEntry.objects.get(action="maintenance.export.aborted")
    assert entry.outcome == Outcome.FAILURE
    assert Client.all_objects.count() == 3  # the connection is usable again


def test_an_unknown_format_is_refused():
    with pytest.raises(ExportError, match="Unknown format"):
        export_stream(Client.all_objects.all(), fmt="xml")


def test_booleans_read_the_same_on_every_database(admin_user):
    columns = {"email": "email", "is_active": "is_active"}
    from crm.models import User

    [row] = csv.DictReader(
        io.StringIO(
            body(export_stream(User.all_objects.filter(pk=admin_user.pk), fmt="csv", columns=columns)).decode(
                "utf-8-sig"
            )
        )
    )
    assert row["is_active"] == "true"
    [item] = json.loads(body(export_stream(User.all_objects.filter(pk=admin_user.pk), fmt="json", columns=columns)))
    assert item["is_active"] is True


HOSTILE = ["=1+1", "+34 600", "-5", "@SUM(A1)", "\tTab", "\rCR", "'=already quoted", "'plain quote", "'", "",
           "Núñez Ibáñez", "😀 emoji", "a,b;\"c\"\nd", "'+", "x=1"]  # fmt: skip


def test_the_server_writes_the_csv_values_exactly_as_python_would(admin_user, on_mariadb):
    """On MariaDB ``csv_rows`` has the server escape formulas and write datetimes and booleans;
    the file must be byte for byte the one the Python conversion writes (on SQLite both are it)."""
    from beils.lib.spreadsheets import escape_formula
    from beils.lib.streaming import column_kinds, csv_chunks, csv_rows, stream_rows
    from transfer.exports import default_columns

    for value in HOSTILE:
        ClientFactory(name=value, surname=value[::-1], notes=value)
    first = Client.all_objects.order_by("pk")[0]
    Client.all_objects.filter(pk=first.pk).update(deactivated_at=datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    queryset, columns = Client.all_objects.order_by("pk"), default_columns(Client)
    lookups = list(columns.values())
    kinds = column_kinds(Client, lookups)
    rows, kinds_left = csv_rows(queryset, lookups, kinds)
    if on_mariadb:  # the server wrote every value: Python only writes rows
        assert set(kinds_left) == {"plain"} and {"text", "datetime", "bool"} <= set(kinds)
    by_server = b"".join(csv_chunks(list(columns), rows, kinds=kinds_left))
    by_python = b"".join(csv_chunks(list(columns), stream_rows(queryset, lookups), kinds=kinds))
    assert by_server == by_python
    read = list(csv.DictReader(io.StringIO(by_server.decode("utf-8-sig"))))
    assert [row["name"] for row in read] == [escape_formula(value) for value in HOSTILE]
    stamp = read[0]["deactivated_at"]  # MariaDB's text keeps the microseconds, Python's isoformat drops zero ones
    assert stamp.startswith("2026-03-29T01:00:00") and stamp.endswith("+00:00") and read[1]["deactivated_at"] == ""
    assert {row["is_demo"] for row in read} == {"false"}
