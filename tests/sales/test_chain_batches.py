"""The hash chain's check reads the invoices a batch at a time by primary key (values, not model
instances): its queries grow with the batches, never with the invoices, and a broken link is
found where a batch ends and the next begins."""

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sales import chain as chain_module
from sales.chain import invoice_chain_verify
from sales.models import Invoice
from sales.services import LineRequest, PaymentRequest, cart_checkout
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven_invoices():
    service = f.ServiceFactory(price=D("30.00"), tax_rate=D("21.00"))
    for _ in range(7):
        cart_checkout(lines=[LineRequest(service=service)], payments=[PaymentRequest(method="CASH", amount=D("30.00"))])
    return list(Invoice.objects.order_by("pk"))


def queries_of_check():
    with CaptureQueriesContext(connection) as queries:
        report = invoice_chain_verify()
    return len(queries), report


def test_the_chain_check_reads_a_batch_of_invoices_at_a_time_not_one_at_a_time(seven_invoices, monkeypatch):
    one_batch, report = queries_of_check()
    assert report.ok and report.invoices == 7
    monkeypatch.setattr(chain_module, "BATCH", 2)
    four_batches, batched = queries_of_check()
    assert four_batches == one_batch + 3  # 2 + 2 + 2 + 1 invoices: four queries instead of one
    assert batched.as_dict() == report.as_dict()
    monkeypatch.setattr(chain_module, "BATCH", 7)
    assert queries_of_check()[0] == one_batch + 1  # a full batch: one more query finds no more


def test_a_link_broken_across_a_batch_boundary_is_found_naming_both_invoices(seven_invoices, monkeypatch):
    second, third = seven_invoices[1], seven_invoices[2]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Invoice._meta.db_table} SET previous_hash = %s WHERE id = %s", ["0" * 64, third.pk])
    whole = invoice_chain_verify()
    monkeypatch.setattr(chain_module, "BATCH", 2)  # the second invoice ends a batch, the third starts one
    report = invoice_chain_verify()
    assert report.as_dict() == whole.as_dict() and report.invoices == 7
    assert not report.ok and report.first_broken.number == third.number
    assert second.number in report.first_broken.problem and "chain is broken" in report.first_broken.problem
    # Its hash no longer matches its fields either, and the fourth still chains on the third's stored hash.
    assert [p.number for p in report.problems] == [third.number, third.number]
