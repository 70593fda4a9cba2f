"""Checkout: one transaction that prices from the catalogue, takes stock, uses coupons, bonos and
gift cards, records payments or a debt, and issues the invoice; or does nothing at all."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from catalog.models import Product
from marketing.models import (
    BonusRedemption,
    ClientBonus,
    ClientBonusStatus,
    Coupon,
    CouponKind,
    GiftCard,
    GiftCardMovement,
    GiftCardStatus,
)
from marketing.services import gift_card_issue
from sales.models import Cart, CartItem, CartStatus, Debt, DebtStatus, Invoice, InvoiceKind, Payment, SalesError
from sales.services import LineRequest, PaymentRequest, cart_checkout, cart_reprice, debt_pay
from tests.factories import (
    BonusFactory,
    CartFactory,
    CartItemFactory,
    ClientBonusFactory,
    ClientFactory,
    CouponFactory,
    PackFactory,
    PackItemFactory,
    ProductFactory,
    ServiceFactory,
)

pytestmark = pytest.mark.django_db

D = Decimal


def cash(amount):
    return [PaymentRequest(method="CASH", amount=D(amount))]


def test_a_sale_is_priced_from_the_catalogue_and_each_line_splits_its_vat():
    product = ProductFactory(price=D("12.10"), tax_rate=D("21.00"), stock=5)
    service = ServiceFactory(price=D("30.00"), tax_rate=D("21.00"))
    result = cart_checkout(
        lines=[LineRequest(product=product, quantity=2), LineRequest(service=service)],
        payments=cash("54.20"),
        client=ClientFactory(),
    )
    cart = result.cart
    assert cart.status == CartStatus.COMPLETED and cart.completed_at is not None
    rows = list(cart.items.order_by("pk").values_list("name", "unit_price", "net", "tax", "gross"))
    assert rows == [
        (product.name, D("12.10"), D("20.00"), D("4.20"), D("24.20")),
        (service.name, D("30.00"), D("24.79"), D("5.21"), D("30.00")),
    ]
    assert (cart.subtotal, cart.net_total, cart.tax_total, cart.total) == (
        D("54.20"), D("44.79"), D("9.41"), D("54.20")
    )  # fmt: skip
    product.refresh_from_db()
    assert product.stock == 3


def test_a_completed_sale_gets_a_simplified_invoice_when_the_client_has_no_tax_id():
    result = cart_checkout(lines=[LineRequest(service=ServiceFactory())], payments=cash("30.00"), client=None)
    invoice = result.invoice
    assert invoice.kind == InvoiceKind.SIMPLIFIED and invoice.customer_tax_id is None
    assert invoice.cart == result.cart and invoice.total == D("30.00")
    assert invoice.tax_breakdown == {"21.00": {"net": "24.79", "tax": "5.21", "gross": "30.00"}}
    assert invoice.hash == invoice.compute_hash()


def test_a_client_with_a_document_number_gets_a_full_invoice_in_their_name():
    client = ClientFactory(document_type="DNI", document_number="12345678Z", name="Lucía", surname="Pérez")
    invoice = cart_checkout(lines=[LineRequest(service=ServiceFactory())], payments=cash("30"), client=client).invoice
    assert (invoice.kind, invoice.customer_tax_id, invoice.customer_name) == (
        InvoiceKind.FULL, "12345678Z", "Lucía Pérez"
    )  # fmt: skip


def test_a_percent_coupon_is_shared_among_the_lines_and_counted():
    coupon = CouponFactory(code="TEN", kind=CouponKind.PERCENT, value=D("10"), max_uses=3)
    result = cart_checkout(
        lines=[
            LineRequest(service=ServiceFactory(price=D("30.00"))),
            LineRequest(product=ProductFactory(price=D("9.99"))),
        ],
        payments=cash("35.99"),
        coupon_code="ten",
    )
    cart = result.cart
    assert cart.coupon == coupon and cart.subtotal == D("39.99") and cart.discount_total == D("4.00")
    assert cart.total == D("35.99")
    assert sum(i.discount for i in cart.items.all()) == D("4.00")
    assert all(i.net + i.tax == i.gross for i in cart.items.all())
    coupon.refresh_from_db()
    assert coupon.uses == 1


def test_a_fixed_coupon_never_takes_the_total_below_zero():
    CouponFactory(code="FIFTY", kind=CouponKind.FIXED, value=D("50.00"))
    result = cart_checkout(
        lines=[LineRequest(product=ProductFactory(price=D("12.10")))], payments=[], coupon_code="FIFTY"
    )
    assert result.cart.discount_total == D("12.10") and result.cart.total == D("0.00")
    assert result.invoice.total == D("0.00")


def test_payments_may_be_mixed_but_must_add_up_to_the_total():
    service = ServiceFactory(price=D("30.00"))
    mixed = [PaymentRequest(method="CASH", amount=D("10.00")), PaymentRequest(method="CARD", amount=D("20.00"))]
    cart = cart_checkout(lines=[LineRequest(service=service)], payments=mixed).cart
    assert sorted(cart.payments.values_list("method", "amount")) == [("CARD", D("20.00")), ("CASH", D("10.00"))]
    with pytest.raises(SalesError, match="not the total"):
        cart_checkout(lines=[LineRequest(service=service)], payments=cash("29.99"))
    with pytest.raises(SalesError, match="more than the total"):
        cart_checkout(lines=[LineRequest(service=service)], payments=cash("30.01"))


def test_a_gift_card_pays_part_of_a_sale_through_its_ledger():
    card = gift_card_issue(amount=D("20.00"))
    payments = [PaymentRequest(method="GIFT_CARD", amount=D("20.00"), gift_card_code=card.code.lower())]
    cart = cart_checkout(lines=[LineRequest(service=ServiceFactory())], payments=[*payments, *cash("10")]).cart
    card.refresh_from_db()
    assert card.current_balance == D("0.00") and card.status == GiftCardStatus.SPENT
    assert cart.payments.get(method="GIFT_CARD").gift_card == card
    assert list(card.movements.order_by("pk").values_list("kind", "amount", "balance_after", "cart")) == [
        ("ISSUE", D("20.00"), D("20.00"), None),
        ("REDEEM", D("-20.00"), D("0.00"), cart.pk),
    ]


def test_selling_a_bono_creates_the_clients_snapshot():
    client = ClientFactory()
    bonus = BonusFactory(total_sessions=6, price=D("150.00"), validity_months=6)
    result = cart_checkout(lines=[LineRequest(bonus=bonus)], payments=cash("150"), client=client)
    [sold] = result.client_bonuses
    assert (sold.client, sold.sessions_total, sold.sessions_remaining, sold.price_paid) == (client, 6, 6, D("150.00"))
    assert sold.expires_on > timezone.localdate() + timedelta(days=170)
    bonus.total_sessions = 10
    bonus.save()
    sold.refresh_from_db()
    assert sold.sessions_total == 6


def test_redeeming_a_bono_session_is_free_and_writes_the_ledger():
    client_bonus = ClientBonusFactory(sessions_total=2, sessions_remaining=1)
    result = cart_checkout(lines=[LineRequest(client_bonus=client_bonus)], payments=[], client=client_bonus.client)
    item = result.cart.items.get()
    assert item.gross == D("0.00") and item.name.startswith("Session of")
    client_bonus.refresh_from_db()
    assert client_bonus.sessions_remaining == 0 and client_bonus.status == ClientBonusStatus.EXHAUSTED
    assert BonusRedemption.objects.get().cart_item == item


def test_it_refuses_another_clients_bono():
    client_bonus = ClientBonusFactory()
    with pytest.raises(SalesError, match="another client"):
        cart_checkout(lines=[LineRequest(client_bonus=client_bonus)], payments=[], client=ClientFactory())


def test_a_pack_takes_the_stock_of_the_products_inside_it():
    product = ProductFactory(stock=10)
    pack = PackFactory(price=D("50.00"))
    PackItemFactory(pack=pack, product=product, service=None, quantity=2)
    cart_checkout(lines=[LineRequest(pack=pack, quantity=2)], payments=cash("100"))
    product.refresh_from_db()
    assert product.stock == 6


def test_it_refuses_to_sell_more_than_the_stock_and_leaves_everything_as_it_was():
    product = ProductFactory(stock=1)
    coupon = CouponFactory(code="TEN")
    with pytest.raises(SalesError, match="Only 1"):
        cart_checkout(lines=[LineRequest(product=product, quantity=2)], payments=cash("21.78"), coupon_code="TEN")
    product.refresh_from_db()
    coupon.refresh_from_db()
    assert product.stock == 1 and coupon.uses == 0
    assert not Cart.objects.exists() and not Invoice.objects.exists()


def test_a_failure_while_issuing_the_invoice_leaves_nothing_behind():
    product = ProductFactory(stock=5)
    client = ClientFactory()
    client_bonus = ClientBonusFactory(client=client, sessions_remaining=3)
    coupon = CouponFactory(code="TEN")
    card = gift_card_issue(amount=D("50.00"))
    counts = {m: m.objects.count() for m in (GiftCardMovement, BonusRedemption, ClientBonus, AuditEntry)}
    lines = [LineRequest(product=product), LineRequest(client_bonus=client_bonus), LineRequest(bonus=BonusFactory())]
    payments = [PaymentRequest(method="GIFT_CARD", amount=D("10.00"), gift_card_code=card.code), *cash("108.89")]
    with (
        mock.patch("sales.services.invoice_hash", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        cart_checkout(lines=lines, payments=payments, client=client, coupon_code="TEN")
    for model in (Product, Coupon, GiftCard, ClientBonus):
        assert model.objects.count() >= 1
    product.refresh_from_db()
    coupon.refresh_from_db()
    card.refresh_from_db()
    client_bonus.refresh_from_db()
    assert (product.stock, coupon.uses, card.current_balance, client_bonus.sessions_remaining) == (5, 0, D("50.00"), 3)
    assert {m: m.objects.count() for m in counts} == counts
    for model in (Cart, CartItem, Payment, Debt, Invoice):
        assert not model.objects.exists(), model


def test_the_same_sale_without_the_failure_writes_every_record():
    """The twin of the test above: it proves the failure, not a wrong setup, left nothing."""
    product = ProductFactory(stock=5)
    client = ClientFactory()
    client_bonus = ClientBonusFactory(client=client, sessions_remaining=3)
    CouponFactory(code="TEN")
    card = gift_card_issue(amount=D("50.00"))
    lines = [LineRequest(product=product), LineRequest(client_bonus=client_bonus), LineRequest(bonus=BonusFactory())]
    payments = [PaymentRequest(method="GIFT_CARD", amount=D("10.00"), gift_card_code=card.code), *cash("108.89")]
    result = cart_checkout(lines=lines, payments=payments, client=client, coupon_code="TEN")
    assert result.cart.total == D("118.89")
    assert result.invoice.pk and len(result.client_bonuses) == 1
    assert Payment.objects.count() == 2 and CartItem.objects.count() == 3


def test_selling_on_credit_creates_the_sale_and_its_debt_together():
    client = ClientFactory()
    result = cart_checkout(
        lines=[LineRequest(service=ServiceFactory(price=D("80.00")))],
        payments=cash("30"),
        client=client,
        on_credit=True,
    )
    debt = result.debt
    assert (debt.client, debt.cart, debt.amount, debt.remaining, debt.status) == (
        client, result.cart, D("50.00"), D("50.00"), DebtStatus.PENDING
    )  # fmt: skip
    assert result.invoice.total == D("80.00")


def test_a_walk_in_cannot_buy_on_credit():
    with pytest.raises(SalesError, match="known client"):
        cart_checkout(lines=[LineRequest(service=ServiceFactory())], payments=[], on_credit=True)
    assert not Cart.objects.exists()


def test_paying_a_debt_moves_it_from_pending_to_partial_to_paid_and_caps_at_what_remains():
    client = ClientFactory()
    debt = cart_checkout(
        lines=[LineRequest(service=ServiceFactory(price=D("80.00")))], payments=[], client=client, on_credit=True
    ).debt
    first = debt_pay(debt=debt, amount=D("30.00"), method="CARD")
    debt.refresh_from_db()
    assert (first.amount, debt.remaining, debt.status) == (D("30.00"), D("50.00"), DebtStatus.PARTIAL)
    last = debt_pay(debt=debt, amount=D("70.00"), method="CASH")
    debt.refresh_from_db()
    assert (last.amount, debt.remaining, debt.status) == (D("50.00"), D("0.00"), DebtStatus.PAID)
    with pytest.raises(SalesError, match="already paid"):
        debt_pay(debt=debt, amount=D("1.00"), method="CASH")
    assert list(debt.payments.values_list("amount", flat=True)) == [D("30.00"), D("50.00")]


def test_a_draft_cart_from_the_admin_is_repriced_then_checked_out_with_its_own_lines():
    service = ServiceFactory(price=D("45.00"))
    cart = CartFactory()
    CartItemFactory(cart=cart, service=service, unit_price=D("1.21"), net=D("1.00"), tax=D("0.21"), gross=D("1.21"))
    cart_reprice(cart=cart)
    cart.refresh_from_db()
    assert cart.total == D("45.00")
    result = cart_checkout(cart=cart, lines=None, payments=cash("45"))
    assert result.cart.pk == cart.pk and result.cart.items.get().gross == D("45.00")
    with pytest.raises(SalesError, match="only an open sale"):
        cart_checkout(cart=cart, lines=None, payments=cash("45"))


def test_an_inactive_product_is_not_sold():
    product = ProductFactory()
    product.deactivate()
    with pytest.raises(SalesError, match="no longer sold"):
        cart_checkout(lines=[LineRequest(product=product)], payments=cash("12.10"))
