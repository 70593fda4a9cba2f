"""The register's files at a group's size: read a batch of invoices at a time, so that the number
of queries grows with the batches, never with the invoices (no query per invoice), and the files
are the same whatever the batch size."""

import csv
import io
import json
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from openpyxl import load_workbook

from sales import register as register_module
from sales.models import Invoice
from sales.register import invoice_register, invoice_register_csv, register_file, verifactu_records
from sales.services import LineRequest, PaymentRequest, cart_checkout, invoice_rectify
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven_invoices():
    """Six sales today through the real checkout (21 % and 10 %), one of them rectified, and one
    invoice stored without its VAT breakdown, broken down from its sale's lines."""
    service = f.ServiceFactory(price=D("30.00"), tax_rate=D("21.00"))
    product = f.ProductFactory(price=D("11.00"), tax_rate=D("10.00"), stock=50)
    sales = []
    for i in range(6):
        lines = [LineRequest(service=service)] + ([LineRequest(product=product)] if i % 2 else [])
        total = D("41.00") if i % 2 else D("30.00")
        sales.append(cart_checkout(lines=lines, payments=[PaymentRequest(method="CASH", amount=total)]))
    invoice_rectify(invoice=sales[1].invoice, reason="Service not given")
    bare = sales[2].invoice
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Invoice._meta.db_table} SET tax_breakdown = '{{}}' WHERE id = %s", [bare.pk])
    return Invoice.objects.count()


def today_file(fmt):
    today = timezone.localdate()
    with translation.override("en"):
        return register_file(start=today, end=today, fmt=fmt)


def queries_of(fmt):
    with CaptureQueriesContext(connection) as queries:
        today_file(fmt)
    return len(queries)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_register_reads_a_batch_at_a_time_not_an_invoice_at_a_time(seven_invoices, fmt, monkeypatch):
    assert seven_invoices == 7
    one_batch = queries_of(fmt)
    monkeypatch.setattr(register_module, "BATCH", 2)
    four_batches = queries_of(fmt)
    # The keys, then per batch the invoices and at most two grouped queries on the sale lines.
    assert one_batch <= 1 + 3
    assert four_batches <= 1 + 4 * 3 and four_batches > one_batch


def test_the_json_reads_a_batch_of_records_at_a_time(seven_invoices, monkeypatch):
    one_batch = queries_of("json")
    monkeypatch.setattr(register_module, "BATCH", 2)
    assert queries_of("json") == one_batch + 3  # four batches of records instead of one


def test_the_files_are_the_same_whatever_the_batch_size(seven_invoices, monkeypatch):
    whole = {fmt: today_file(fmt) for fmt in ("csv", "xlsx")}
    monkeypatch.setattr(register_module, "BATCH", 2)
    batched = {fmt: today_file(fmt) for fmt in ("csv", "xlsx")}
    assert batched["csv"].content == whole["csv"].content and batched["csv"].rows == 7
    sheets = [
        list(load_workbook(io.BytesIO(exported["xlsx"].content)).active.iter_rows(values_only=True))
        for exported in (whole, batched)
    ]
    csv_rows = list(csv.reader(io.StringIO(whole["csv"].content.decode("utf-8-sig"))))
    assert len(sheets[0]) == len(sheets[1]) == len(csv_rows) == 9  # header, 7 invoices, totals
    assert sheets[0] == sheets[1]
    assert [row[1] for row in sheets[0][1:-1]] == [row[1] for row in csv_rows[1:-1]]


def test_the_csv_file_is_the_register_in_memory_row_for_row(seven_invoices, monkeypatch):
    monkeypatch.setattr(register_module, "BATCH", 3)
    today = timezone.localdate()
    with translation.override("en"):
        expected = invoice_register_csv(invoice_register(start=today, end=today))
    assert today_file("csv").content == expected
    rows = list(csv.reader(io.StringIO(expected.decode("utf-8-sig"))))
    assert rows[-1][-2] == "172.00"  # 3 × 30 + 3 × 41 − 41 (the rectified sale), to the cent
    assert rows[0][6:10] == ["Base 21%", "VAT 21%", "Base 10%", "VAT 10%"]


def test_the_json_file_holds_the_same_records_as_the_records_in_memory(seven_invoices, monkeypatch):
    monkeypatch.setattr(register_module, "BATCH", 2)
    today = timezone.localdate()
    document = json.loads(today_file("json").content)
    expected = verifactu_records(start=today, end=today)
    assert document["records"] == expected["records"] and len(document["records"]) == 7
    assert document["header"]["count"] == 7 and document["header"]["chain"]["ok"] is True


def test_an_empty_period_gives_a_json_file_that_parses(seven_invoices):
    yesterday = timezone.localdate().replace(year=2000)
    exported = register_file(start=yesterday, end=yesterday, fmt="json")
    document = json.loads(exported.content)
    assert exported.rows == 0 and document["records"] == [] and document["header"]["count"] == 0
