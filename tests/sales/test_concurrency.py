"""Parallel tills on MariaDB: invoice numbers are never shared or skipped, the chain never forks,
a coupon is never used beyond its maximum, and stock never goes below zero.

Each till is a thread with its own database connection, released together by a barrier so that
their transactions overlap. SQLite serialises writers by itself, so these need MariaDB.
"""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from catalog.models import Product
from marketing.models import Coupon, MarketingError
from sales.chain import invoice_chain_verify
from sales.models import Cart, CartStatus, Invoice, SalesError
from sales.services import LineRequest, PaymentRequest, cart_checkout
from tests.factories import CouponFactory, ProductFactory, ServiceFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB"),
    pytest.mark.django_db(transaction=True),
]

D = Decimal


def run_tills(count: int, work) -> tuple[list, list[Exception]]:
    """Run ``work(i)`` in ``count`` threads started together; return results and refusals."""
    barrier = threading.Barrier(count)
    results, errors, lock = [], [], threading.Lock()

    def till(i):
        try:
            barrier.wait()
            outcome = work(i)
            with lock:
                results.append(outcome)
        except Exception as error:  # noqa: BLE001 - collected and asserted on by the test
            with lock:
                errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=till, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_parallel_checkouts_never_share_or_skip_an_invoice_number():
    service = ServiceFactory(price=D("30.00"))
    tills, sales_each = 6, 4

    def work(_i):
        return [
            cart_checkout(lines=[LineRequest(service=service)], payments=[PaymentRequest("CARD", D("30.00"))]).invoice.sequence_number
            for _ in range(sales_each)
        ]  # fmt: skip

    results, errors = run_tills(tills, work)
    assert errors == []
    numbers = sorted(n for batch in results for n in batch)
    assert numbers == list(range(1, tills * sales_each + 1))
    assert Invoice.objects.count() == tills * sales_each
    report = invoice_chain_verify()
    assert report.ok, report.problems[:3]
    assert len(set(Invoice.objects.values_list("previous_hash", flat=True))) == tills * sales_each


def test_parallel_checkouts_never_use_a_coupon_beyond_its_maximum():
    coupon = CouponFactory(code="LAST3", max_uses=3, value=D("10"))
    service = ServiceFactory(price=D("30.00"))

    def work(_i):
        return cart_checkout(
            lines=[LineRequest(service=service)], payments=[PaymentRequest("CASH", D("27.00"))], coupon_code="LAST3"
        ).cart.pk

    results, errors = run_tills(8, work)
    assert len(results) == 3
    assert len(errors) == 5 and all(isinstance(e, MarketingError) for e in errors), errors
    coupon.refresh_from_db()
    assert coupon.uses == 3
    assert Cart.objects.filter(coupon=coupon, status=CartStatus.COMPLETED).count() == 3
    assert Coupon.objects.get().uses == 3


def test_parallel_checkouts_never_sell_stock_that_is_not_there():
    product = ProductFactory(stock=4, price=D("10.00"))

    def work(_i):
        return cart_checkout(lines=[LineRequest(product=product)], payments=[PaymentRequest("CASH", D("10.00"))])

    results, errors = run_tills(7, work)
    assert len(results) == 4 and len(errors) == 3
    assert all(isinstance(e, SalesError) for e in errors), errors
    assert Product.objects.get().stock == 0
    assert invoice_chain_verify().ok
