"""Sales, debts and invoices: money is exact, lines are well-formed, fiscal records are kept."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.db.models import ProtectedError, Sum
from django.utils import timezone

from sales.models import (
    Cart,
    CartItem,
    CartStatus,
    Debt,
    DebtStatus,
    Invoice,
    InvoiceKind,
    InvoiceSequence,
    Payment,
    PaymentMethod,
    SalesError,
    invoice_hash,
)
from tests.factories import (
    BookingFactory,
    CartFactory,
    CartItemFactory,
    ClientBonusFactory,
    CompletedCartFactory,
    DebtFactory,
    DebtPaymentFactory,
    InvoiceFactory,
    PaymentFactory,
    ProductFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _line(cart, **overrides):
    values = {
        "cart": cart,
        "name": "Line",
        "quantity": 1,
        "unit_price": Decimal("12.10"),
        "net": Decimal("10.00"),
        "tax": Decimal("2.10"),
        "gross": Decimal("12.10"),
    }
    return CartItem(**{**values, **overrides})


# --- Cart lines ---------------------------------------------------------------------------


def test_a_line_with_one_target_is_accepted():
    item = CartItemFactory()
    item.refresh_from_db()
    assert item.target == item.service
    assert item.net + item.tax == item.gross


def test_it_refuses_a_line_that_sells_nothing():
    with pytest.raises(IntegrityError), transaction.atomic():
        CartItem.objects.bulk_create([_line(CartFactory())])


@pytest.mark.parametrize(
    "make_targets",
    [
        lambda: {"product": ProductFactory(), "service": ServiceFactory()},
        lambda: {"service": ServiceFactory(), "client_bonus": ClientBonusFactory()},
    ],
    ids=["product and service", "service and bono session"],
)
def test_it_refuses_a_line_that_sells_two_things(make_targets):
    line = _line(CartFactory(), **make_targets())
    with pytest.raises(IntegrityError), transaction.atomic():
        line.save()


def test_it_refuses_a_line_whose_gross_is_not_net_plus_tax():
    with pytest.raises(IntegrityError), transaction.atomic():
        _line(CartFactory(), service=ServiceFactory(), gross=Decimal("12.11")).save()


def test_it_refuses_a_line_changed_later_so_gross_no_longer_adds_up():
    item = CartItemFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CartItem.objects.filter(pk=item.pk).update(tax=Decimal("2.00"))


def test_it_refuses_a_negative_unit_price():
    with pytest.raises(IntegrityError), transaction.atomic():
        _line(CartFactory(), service=ServiceFactory(), unit_price=Decimal("-1.00")).save()


def test_it_refuses_a_line_of_zero_quantity():
    with pytest.raises(IntegrityError), transaction.atomic():
        _line(CartFactory(), service=ServiceFactory(), quantity=0).save()


def test_deleting_a_cart_deletes_its_lines_and_payments():
    payment = PaymentFactory()
    item = CartItemFactory(cart=payment.cart)
    payment.cart.delete()
    assert not CartItem.objects.filter(pk=item.pk).exists()
    assert not Payment.objects.filter(pk=payment.pk).exists()


# --- Carts --------------------------------------------------------------------------------


def test_it_refuses_a_completed_cart_without_a_completion_time():
    with pytest.raises(IntegrityError), transaction.atomic():
        Cart.objects.create(status=CartStatus.COMPLETED)


def test_it_refuses_negative_cart_totals():
    with pytest.raises(IntegrityError), transaction.atomic():
        Cart.objects.create(total=Decimal("-0.01"))


def test_a_walk_in_sale_needs_no_client():
    cart = Cart.objects.create()
    assert cart.client is None


def test_deleting_a_booking_keeps_its_sale():
    booking = BookingFactory()
    cart = CartFactory(client=booking.client, booking=booking)
    booking.delete()
    cart.refresh_from_db()
    assert cart.booking is None


def test_deleting_the_cashier_keeps_the_sale():
    cashier = UserFactory()
    cart = CartFactory(created_by=cashier)
    cashier.delete()
    cart.refresh_from_db()
    assert cart.created_by is None


def test_it_refuses_to_delete_a_sale_that_was_invoiced():
    invoice = InvoiceFactory()
    with pytest.raises(ProtectedError), transaction.atomic():
        invoice.cart.delete()
    assert Cart.objects.filter(pk=invoice.cart_id).exists()


def test_it_refuses_to_delete_a_sale_with_a_debt():
    debt = DebtFactory(cart=CompletedCartFactory())
    with pytest.raises(ProtectedError), transaction.atomic():
        debt.cart.delete()


def test_revenue_sums_only_completed_sales():
    CompletedCartFactory(total=Decimal("12.10"))
    CompletedCartFactory(total=Decimal("7.90"))
    CartFactory(total=Decimal("100.00"))
    assert Cart.objects.completed().revenue() == Decimal("20.00")
    assert Cart.objects.none().revenue() == Decimal("0.00")


def test_archivable_sales_are_completed_before_the_cut_off():
    now = timezone.now()
    old = CompletedCartFactory(completed_at=now - timedelta(days=800))
    CompletedCartFactory(completed_at=now - timedelta(days=10))
    CartFactory()
    assert list(Cart.objects.archivable(before=now - timedelta(days=730))) == [old]


def test_amount_paid_adds_up_a_mixed_payment():
    payment = PaymentFactory(amount=Decimal("5.10"))
    Payment.objects.create(cart=payment.cart, method=PaymentMethod.CARD, amount=Decimal("7.00"))
    assert payment.cart.amount_paid == Decimal("12.10")


def test_it_refuses_a_gift_card_payment_that_names_no_card():
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(cart=CompletedCartFactory(), method=PaymentMethod.GIFT_CARD, amount=Decimal("1.00"))


def test_it_refuses_a_payment_of_zero():
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(cart=CompletedCartFactory(), method=PaymentMethod.CASH, amount=Decimal("0"))


# --- Money --------------------------------------------------------------------------------


def test_cents_add_up_exactly_in_the_database():
    cart = CartFactory()
    for cents in ["0.10", "0.20"]:
        amount = Decimal(cents)
        CartItemFactory(cart=cart, unit_price=amount, net=amount, tax=Decimal("0.00"), gross=amount)

    total = CartItem.objects.filter(cart=cart).aggregate(total=Sum("gross"))["total"]

    assert isinstance(total, Decimal)
    assert total == Decimal("0.30")


def test_a_stored_amount_reads_back_as_the_same_decimal():
    cart = CartFactory(total=Decimal("0.10") + Decimal("0.20"), subtotal=Decimal("12345678.99"))
    cart.refresh_from_db()
    assert isinstance(cart.total, Decimal)
    assert cart.total == Decimal("0.30")
    assert cart.subtotal == Decimal("12345678.99")


@pytest.mark.parametrize("amount", ["12345678.99", "9999999999.99", "0.01", "1234.05"])
def test_large_and_small_amounts_round_trip(amount):
    debt = DebtFactory(amount=Decimal(amount), remaining=Decimal(amount))
    debt = Debt.objects.get(pk=debt.pk)
    assert isinstance(debt.amount, Decimal)
    assert debt.amount == Decimal(amount)
    assert str(debt.remaining) == amount


def test_revenue_of_many_small_sales_is_exact():
    for _ in range(10):
        CompletedCartFactory(total=Decimal("0.10"))
    revenue = Cart.objects.completed().revenue()
    assert isinstance(revenue, Decimal)
    assert revenue == Decimal("1.00")


# --- Debts --------------------------------------------------------------------------------


def test_it_refuses_a_debt_with_more_remaining_than_owed():
    with pytest.raises(IntegrityError), transaction.atomic():
        Debt.objects.create(client=DebtFactory().client, amount=Decimal("50.00"), remaining=Decimal("50.01"))


def test_it_refuses_a_negative_remaining_debt():
    debt = DebtFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Debt.objects.filter(pk=debt.pk).update(remaining=Decimal("-1.00"))


def test_it_refuses_a_paid_debt_with_money_still_owed():
    debt = DebtFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Debt.objects.filter(pk=debt.pk).update(status=DebtStatus.PAID)


def test_deleting_a_debt_deletes_its_payments():
    payment = DebtPaymentFactory()
    Debt.objects.filter(pk=payment.debt_id).delete()
    assert not type(payment).objects.filter(pk=payment.pk).exists()


def test_open_debts_and_what_is_outstanding():
    DebtFactory(amount=Decimal("50.00"), remaining=Decimal("20.00"), status=DebtStatus.PARTIAL)
    DebtFactory(amount=Decimal("30.00"), remaining=Decimal("30.00"))
    DebtFactory(amount=Decimal("10.00"), remaining=Decimal("0.00"), status=DebtStatus.PAID)
    assert Debt.objects.open().count() == 2
    assert Debt.objects.outstanding() == Decimal("50.00")


def test_overdue_debts_are_open_and_past_their_due_date():
    today = timezone.localdate()
    late = DebtFactory(due_date=today - timedelta(days=1))
    DebtFactory(due_date=today)
    DebtFactory(due_date=today - timedelta(days=3), remaining=Decimal("0"), status=DebtStatus.PAID)
    assert list(Debt.objects.overdue()) == [late]


# --- Invoices -----------------------------------------------------------------------------


def test_invoice_numbers_count_from_one_per_series_and_year():
    with transaction.atomic():
        taken = [InvoiceSequence.take_next(series="F", year=2025) for _ in range(3)]
        other_year = InvoiceSequence.take_next(series="F", year=2026)
        other_series = InvoiceSequence.take_next(series="R", year=2025)
        fourth = InvoiceSequence.take_next(series="F", year=2025)
    assert taken == [1, 2, 3]
    assert (other_year, other_series, fourth) == (1, 1, 4)
    assert InvoiceSequence.objects.get(series="F", year=2025).last_number == 4


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_take_an_invoice_number_outside_a_transaction():
    with pytest.raises(SalesError):
        InvoiceSequence.take_next(series="F", year=2025)
    assert not InvoiceSequence.objects.exists()


def test_it_refuses_duplicate_invoice_number():
    invoice = InvoiceFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(number=invoice.number)


def test_it_refuses_a_gap_free_key_used_twice():
    invoice = InvoiceFactory(series="F", year=2025, sequence_number=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(series="F", year=2025, sequence_number=7, number="F2025-000007-bis", cart=invoice.cart)


def test_it_refuses_an_invoice_whose_total_is_not_net_plus_tax():
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(total=Decimal("12.11"))


def test_it_refuses_a_rectifying_invoice_that_names_no_original():
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(kind=InvoiceKind.RECTIFYING, rectifies=None)


def test_it_refuses_to_delete_an_invoice_that_was_rectified():
    original = InvoiceFactory()
    InvoiceFactory(kind=InvoiceKind.RECTIFYING, rectifies=original, cart=original.cart)
    with pytest.raises(SalesError), transaction.atomic():
        original.delete()
    # Below the model's own refusal, the database keeps the link too.
    with pytest.raises(ProtectedError), transaction.atomic():
        models.Model.delete(original)
    assert Invoice.objects.filter(pk=original.pk).exists()


def test_the_stored_hash_is_the_chained_sha256_of_the_invoice():
    first = InvoiceFactory()
    second = InvoiceFactory(previous_hash=first.hash)
    second.refresh_from_db()
    assert len(second.hash) == 64
    assert second.compute_hash() == second.hash
    assert second.hash != invoice_hash(
        issuer_tax_id=second.issuer_tax_id,
        number=second.number,
        issue_date=second.issue_date,
        total=second.total,
        previous_hash="",
    )


def test_the_hash_changes_when_the_total_is_tampered_with():
    invoice = InvoiceFactory()
    # Below the ORM's guards, as a tamperer with database access would.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sales_invoice SET total = %s, tax_total = %s WHERE id = %s", ["13.10", "3.10", invoice.pk]
        )
    invoice.refresh_from_db()
    assert invoice.compute_hash() != invoice.hash


def test_invoice_hash_formats_the_total_with_two_decimals():
    args = {"issuer_tax_id": "B1", "number": "F1", "issue_date": date(2025, 1, 1), "previous_hash": ""}
    assert invoice_hash(total=Decimal("12.1"), **args) == invoice_hash(total=Decimal("12.10"), **args)
