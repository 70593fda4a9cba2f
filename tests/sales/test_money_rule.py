"""Money and debts appear only through a sale or an audited ADMIN/MANAGER act (domain.md).

A gift card is sold at checkout (any role at the till) or issued as a comp by MANAGER/ADMIN with a
reason, audited; a debt exists only because of a credit sale; and no role below ADMIN writes value
ledgers (gift card movements, bono sessions, payments) by hand.
"""

from decimal import Decimal

import pytest

from audit.models import AuditEntry
from crm.models import Role
from crm.roles import role_permission_names
from marketing.models import ClientBonus, GiftCard, GiftCardMovement, GiftCardMovementKind, MarketingError
from sales.models import Debt, Payment
from tests.factories import BonusFactory, CartFactory, ClientFactory, CouponFactory, DebtFactory, ServiceFactory
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db

D = Decimal


# --- Gift cards ----------------------------------------------------------------------------------


def test_staff_cannot_issue_a_gift_card_from_nothing_through_the_api(staff_user):
    response = api_as(staff_user).post(
        "/api/marketing/gift-cards", {"initial_balance": "500.00", "reason": "friend"}, format="json"
    )
    assert response.status_code == 403
    assert not GiftCard.objects.exists()


def test_staff_cannot_open_the_gift_card_add_page(staff_browser):
    assert staff_browser.get(admin_url(GiftCard, "add")).status_code == 403


def test_a_comp_gift_card_needs_a_reason(manager_user):
    response = api_as(manager_user).post("/api/marketing/gift-cards", {"initial_balance": "20.00"}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()
    assert not GiftCard.objects.exists()


def test_a_manager_issues_a_comp_gift_card_with_a_reason_and_it_is_audited(manager_user):
    response = api_as(manager_user).post(
        "/api/marketing/gift-cards",
        {"initial_balance": "20.00", "reason": "Apology for a late appointment"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    card = GiftCard.objects.get()
    assert card.current_balance == D("20.00")
    entry = AuditEntry.objects.get(action="marketing.giftcard.comped")
    assert (entry.actor, entry.target_id) == (manager_user, str(card.pk))
    assert entry.detail["reason"] == "Apology for a late appointment"


def test_a_manager_issues_a_comp_gift_card_in_the_admin_with_a_reason(manager_browser, manager_user):
    response = manager_browser.post(
        admin_url(GiftCard, "add"),
        {"code": "", "initial_balance": "15.00", "expires_on": "", "owner": "", "reason": "Birthday gift",
         "movements-TOTAL_FORMS": "0", "movements-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    card = GiftCard.objects.get()
    assert AuditEntry.objects.get(action="marketing.giftcard.comped").detail["reason"] == "Birthday gift"
    assert card.initial_balance == D("15.00")


def test_the_comp_service_refuses_staff_and_a_blank_reason(staff_user, manager_user):
    from marketing.services import gift_card_issue_comp

    with pytest.raises(MarketingError):
        gift_card_issue_comp(amount=D("10"), reason="because", actor=staff_user)
    with pytest.raises(MarketingError):
        gift_card_issue_comp(amount=D("10"), reason="   ", actor=manager_user)
    assert not GiftCard.objects.exists()


def test_staff_sell_a_gift_card_at_checkout_and_the_sale_creates_it(staff_user):
    client = ClientFactory()
    body = {
        "client": client.pk,
        "lines": [{"gift_card_amount": "50.00"}],
        "payments": [{"method": "CASH", "amount": "50.00"}],
    }
    response = api_as(staff_user).post("/api/sales/carts/checkout", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    card = GiftCard.objects.get()
    assert (card.initial_balance, card.current_balance, card.owner) == (D("50.00"), D("50.00"), client)
    issue = GiftCardMovement.objects.get(gift_card=card)
    assert (issue.kind, issue.cart_id) == (GiftCardMovementKind.ISSUE, data["id"])
    [line] = data["items"]
    # A voucher carries no VAT when sold: VAT is charged on what it later pays for.
    assert (line["gift_card"], line["gross"], line["tax"], data["total"]) == (card.pk, "50.00", "0.00", "50.00")


def test_a_coupon_never_discounts_a_gift_card(staff_user):
    CouponFactory(code="TENOFF", value=D("10"))
    service = ServiceFactory(price=D("30.00"))
    body = {
        "lines": [{"service": service.pk}, {"gift_card_amount": "50.00"}],
        "payments": [{"method": "CARD", "amount": "77.00"}],
        "coupon": "TENOFF",
    }
    response = api_as(staff_user).post("/api/sales/carts/checkout", body, format="json")
    assert response.status_code == 201, response.json()
    assert GiftCard.objects.get().initial_balance == D("50.00")
    assert response.json()["discount_total"] == "3.00"


def test_a_gift_card_line_needs_a_positive_amount(staff_user):
    body = {"lines": [{"gift_card_amount": "0.00"}], "payments": [{"method": "CASH", "amount": "0.01"}]}
    response = api_as(staff_user).post("/api/sales/carts/checkout", body, format="json")
    assert response.status_code == 400
    assert not GiftCard.objects.exists()


# --- Debts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["admin_user", "manager_user", "staff_user"])
def test_nobody_creates_a_debt_directly_through_the_api(request, persona):
    user = request.getfixturevalue(persona)
    response = api_as(user).post("/api/sales/debts", {"client": ClientFactory().pk, "amount": "300.00"}, format="json")
    assert response.status_code in (403, 405)
    assert not Debt.objects.exists()


def test_nobody_deletes_a_debt_through_the_api(admin_user):
    debt = DebtFactory()
    assert api_as(admin_user).delete(f"/api/sales/debts/{debt.pk}").status_code == 405
    assert Debt.objects.filter(pk=debt.pk).exists()


def test_a_debt_keeps_its_client_and_amount_when_patched(manager_user):
    debt = DebtFactory()
    other = ClientFactory()
    response = api_as(manager_user).patch(
        f"/api/sales/debts/{debt.pk}", {"client": other.pk, "due_date": "2030-01-31"}, format="json"
    )
    assert response.status_code == 200
    debt.refresh_from_db()
    assert debt.client_id != other.pk
    assert str(debt.due_date) == "2030-01-31"


@pytest.mark.parametrize("persona", ["admin_browser", "manager_browser", "staff_browser"])
def test_nobody_adds_or_deletes_a_debt_in_the_admin(request, persona):
    browser = request.getfixturevalue(persona)
    debt = DebtFactory()
    assert browser.get(admin_url(Debt, "add")).status_code == 403
    assert browser.post(admin_url(Debt, "delete", debt.pk), {"post": "yes"}).status_code == 403
    assert Debt.objects.filter(pk=debt.pk).exists()


# --- Bonos and the ledgers -----------------------------------------------------------------------


def test_staff_cannot_hand_a_client_a_bono_without_selling_it(staff_user):
    bonus = BonusFactory()
    response = api_as(staff_user).post(
        "/api/marketing/client-bonuses", {"client": ClientFactory().pk, "bonus": bonus.pk}, format="json"
    )
    assert response.status_code == 403
    assert not ClientBonus.objects.exists()


VALUE_WRITES = [
    "marketing.add_giftcard",
    "marketing.add_giftcardmovement",
    "marketing.add_clientbonus",
    "marketing.change_clientbonus",
    "marketing.add_bonusredemption",
    "sales.add_payment",
    "sales.add_debt",
]


@pytest.mark.parametrize("perm", VALUE_WRITES)
def test_staff_hold_no_permission_that_creates_value_outside_a_sale(perm):
    assert perm not in role_permission_names(Role.STAFF)


@pytest.mark.parametrize(
    "perm",
    ["marketing.add_giftcardmovement", "marketing.add_bonusredemption", "marketing.add_clientbonus",
     "sales.add_payment", "sales.add_debt"],
)  # fmt: skip
def test_managers_write_no_ledger_row_by_hand(perm):
    assert perm not in role_permission_names(Role.MANAGER)


def test_staff_sell_a_gift_card_with_a_draft_sale_in_the_admin(staff_browser):
    cart = f_cart_with_service(D("30.00"))
    till = {"payment-TOTAL_FORMS": "1", "payment-INITIAL_FORMS": "0", "payment-0-method": "CARD"}
    response = staff_browser.post(f"/admin/sales/cart/{cart.pk}/checkout/", {**till, "gift_card_amount": "25.00"})
    assert response.status_code == 302
    cart.refresh_from_db()
    card = GiftCard.objects.get()
    assert (card.initial_balance, cart.total) == (D("25.00"), D("55.00"))
    assert list(cart.payments.values_list("amount", flat=True)) == [D("55.00")]
    assert card.movements.get().cart == cart


def f_cart_with_service(price):
    from sales.models import CartItem
    from tests.factories import CartFactory

    cart = CartFactory()
    CartItem.objects.create(cart=cart, service=ServiceFactory(price=price), name="x", unit_price=price)
    return cart


def test_a_manager_cannot_import_gift_cards_with_balances_from_a_file(manager_browser):
    assert manager_browser.get(admin_url(GiftCard, "import")).status_code == 403


def test_a_manager_cannot_delete_a_gift_card_and_its_ledger(manager_user):
    assert "marketing.delete_giftcard" not in role_permission_names(Role.MANAGER)


# --- Data repair by hand: ADMIN only, and audited ---------------------------------------------------


def test_an_admin_adding_and_deleting_a_payment_by_hand_is_audited(admin_browser, admin_user):
    cart = CartFactory()
    response = admin_browser.post(
        admin_url(Payment, "add"),
        {"cart": cart.pk, "method": "CASH", "amount": "12.50", "paid_at_0": "2026-11-30", "paid_at_1": "10:00:00"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    payment = Payment.objects.get(cart=cart)
    added = AuditEntry.objects.get(action="sales.payment.added_by_hand")
    assert (added.actor, added.target_id, "amount" in added.detail["fields"]) == (admin_user, str(payment.pk), True)

    admin_browser.post(admin_url(Payment, "delete", payment.pk), {"post": "yes"})

    assert not Payment.objects.filter(pk=payment.pk).exists()
    assert AuditEntry.objects.filter(action="sales.payment.deleted_by_hand", target_id=str(payment.pk)).exists()


def test_an_admin_giving_a_bono_in_the_admin_is_audited(admin_browser, admin_user):
    bonus, client = BonusFactory(), ClientFactory()
    page = admin_browser.get(admin_url(ClientBonus, "add"))
    inlines = {
        f"{inline.formset.prefix}-{name}": value
        for inline in page.context["inline_admin_formsets"]
        for name, value in inline.formset.management_form.initial.items()
    }
    response = admin_browser.post(
        admin_url(ClientBonus, "add"),
        {
            "client": client.pk, "bonus": bonus.pk, "name": "Regalo", "sessions_total": 3, "sessions_remaining": 3,
            "price_paid": "0.00", "purchased_on": "2026-11-30", "status": "ACTIVE", **inlines,
        },
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    granted = AuditEntry.objects.get(action="marketing.clientbonus.granted")
    assert (granted.actor, granted.detail["sessions"]) == (admin_user, 3)
