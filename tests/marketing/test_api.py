"""The REST API of marketing: coupons, bonos, clients' bonos and gift cards."""

from decimal import Decimal

from audit.models import AuditEntry
from beils.lib.models import Status
from marketing.models import Coupon, GiftCard, GiftCardMovementKind
from tests.factories import (
    BonusFactory,
    CartFactory,
    CartItemFactory,
    ClientBonusFactory,
    ClientFactory,
    CouponFactory,
    GiftCardFactory,
    PaymentFactory,
    ServiceFactory,
)
from tests.helpers import api_as


def test_managers_run_coupons_and_staff_only_read_them(manager_user, staff_user):
    api = api_as(manager_user)
    response = api.post("/api/marketing/coupons", {"code": "summer10", "kind": "PERCENT", "value": "10"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["code"] == "SUMMER10" and response.json()["value"] == "10.00"
    assert api.post("/api/marketing/coupons", {"code": "Summer10", "value": "5"}, format="json").status_code == 400
    staff = api_as(staff_user)
    assert staff.get("/api/marketing/coupons").json()["count"] == 1
    assert staff.post("/api/marketing/coupons", {"code": "X", "value": "5"}, format="json").status_code == 403


def test_coupon_rules_are_checked_before_the_database(manager_user):
    api = api_as(manager_user)
    assert (
        api.post("/api/marketing/coupons", {"code": "A", "kind": "PERCENT", "value": "150"}, format="json").status_code
        == 400
    )
    window = {"code": "B", "value": "5", "valid_from": "2026-02-01T00:00:00Z", "valid_until": "2026-01-01T00:00:00Z"}
    assert api.post("/api/marketing/coupons", window, format="json").status_code == 400
    assert not Coupon.all_objects.exists()


def test_deleting_a_coupon_deactivates_it_and_a_used_one_cannot_be_hard_deleted(manager_user, admin_user):
    used, unused = CouponFactory(), CouponFactory()
    CartFactory(coupon=used)
    api = api_as(manager_user)
    assert api.delete(f"/api/marketing/coupons/{used.pk}").status_code == 204
    assert Coupon.all_objects.get(pk=used.pk).status == Status.OFF
    assert [c["id"] for c in api.get("/api/marketing/coupons").json()["results"]] == [unused.pk]
    assert api.delete(f"/api/marketing/coupons/{used.pk}?hard=1").status_code == 409


def test_bonos_have_services(manager_user):
    service = ServiceFactory()
    api = api_as(manager_user)
    payload = {"name": "5 facials", "code": "B5", "services": [service.pk], "total_sessions": 5, "price": "120.00"}
    response = api.post("/api/marketing/bonuses", payload, format="json")
    assert response.status_code == 201, response.json()
    assert api.get(f"/api/marketing/bonuses?services={service.pk}").json()["count"] == 1
    bad = {**payload, "code": "B0", "total_sessions": 0}
    assert api.post("/api/marketing/bonuses", bad, format="json").status_code == 400


def test_an_admin_granting_a_bono_copies_it_from_the_catalogue_and_is_audited(admin_user):
    bonus = BonusFactory(total_sessions=8, price=Decimal("150.00"), validity_months=6)
    client = ClientFactory()
    response = api_as(admin_user).post(
        "/api/marketing/client-bonuses",
        {"client": client.pk, "bonus": bonus.pk, "purchased_on": "2026-01-31"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == bonus.name and body["sessions_total"] == body["sessions_remaining"] == 8
    assert body["price_paid"] == "150.00" and body["expires_on"] == "2026-07-31"
    assert body["services"] == list(bonus.services.values_list("pk", flat=True))
    assert AuditEntry.objects.get(action="marketing.clientbonus.granted").actor == admin_user


def test_a_client_bono_cannot_have_more_sessions_left_than_bought(admin_user):
    cb = ClientBonusFactory()
    response = api_as(admin_user).patch(
        f"/api/marketing/client-bonuses/{cb.pk}", {"sessions_remaining": 9}, format="json"
    )
    assert response.status_code == 400


def test_a_client_bono_used_on_a_sale_cannot_be_deleted(admin_user, manager_user, staff_user):
    cb = ClientBonusFactory()
    CartItemFactory(client_bonus=cb, service=None, name=cb.name)
    assert api_as(staff_user).delete(f"/api/marketing/client-bonuses/{cb.pk}").status_code == 403
    assert api_as(manager_user).delete(f"/api/marketing/client-bonuses/{cb.pk}").status_code == 403
    assert api_as(admin_user).delete(f"/api/marketing/client-bonuses/{cb.pk}").status_code == 409


def test_issuing_a_gift_card_writes_the_ledger(manager_user):
    response = api_as(manager_user).post(
        "/api/marketing/gift-cards", {"code": "gift-1", "initial_balance": "50.00", "reason": "Prize"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["current_balance"] == "50.00" and response.json()["code"] == "GIFT-1"
    card = GiftCard.objects.get(code="GIFT-1")
    assert list(card.movements.values_list("kind", "amount")) == [(GiftCardMovementKind.ISSUE, Decimal("50.00"))]


def test_gift_card_balances_are_not_edited_by_hand(manager_user):
    card = GiftCardFactory()
    api = api_as(manager_user)
    assert (
        api.patch(f"/api/marketing/gift-cards/{card.pk}", {"initial_balance": "80"}, format="json").status_code == 400
    )
    response = api.patch(f"/api/marketing/gift-cards/{card.pk}", {"current_balance": "999"}, format="json")
    assert response.status_code == 200 and response.json()["current_balance"] == "50.00"
    assert api.get(f"/api/marketing/gift-cards?owner={card.owner_id}").json()["count"] == 1


def test_a_gift_card_used_as_payment_cannot_be_deleted(admin_user, manager_user):
    card = GiftCardFactory()
    PaymentFactory(method="GIFT_CARD", gift_card=card)
    assert api_as(manager_user).delete(f"/api/marketing/gift-cards/{card.pk}").status_code == 403
    assert api_as(admin_user).delete(f"/api/marketing/gift-cards/{card.pk}").status_code == 409


def test_a_gift_card_issued_without_a_code_gets_a_unique_generated_one(manager_user):
    api = api_as(manager_user)

    first = api.post("/api/marketing/gift-cards", {"initial_balance": "25.00", "reason": "Raffle prize"}, format="json")
    second = api.post(
        "/api/marketing/gift-cards", {"initial_balance": "25.00", "code": "", "reason": "Raffle prize"}, format="json"
    )

    assert (first.status_code, second.status_code) == (201, 201), (first.content, second.content)
    codes = {first.json()["code"], second.json()["code"]}
    assert len(codes) == 2 and all(code.startswith("GC-") for code in codes)
    assert set(GiftCard.objects.values_list("code", flat=True)) == codes
