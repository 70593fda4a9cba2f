"""Coupons and gift cards, where the old installation still has the tables."""

from django.utils import timezone
from django.utils.translation import gettext

from crm.models import Client
from legacy import mapping as m
from legacy.importer.base import ZERO, ImporterBase
from marketing.models import (
    Coupon,
    CouponKind,
    GiftCard,
    GiftCardMovement,
    GiftCardMovementKind,
    GiftCardStatus,
)


class MarketingImport(ImporterBase):
    def import_coupons(self) -> None:
        for rows in self.batches("coupons", "coupon_id"):
            with self.batch("coupons", rows):
                items = []
                for row in rows:
                    lid, value = row["coupon_id"], m.money(row["discount_value"])
                    kind = m.COUPON_KINDS.get((row["discount_type"] or "").lower())
                    if kind is None or value <= 0 or (kind == CouponKind.PERCENT and value > 100):
                        self.skip("coupons", lid, gettext("coupon of an unknown kind or value"),
                                  detail=f"{row['discount_type']} {value}")  # fmt: skip
                        continue
                    uses, most = row["current_uses"] or 0, row["max_uses"]
                    if most is not None and uses > most:
                        self.problem("coupons", lid, gettext("more uses than the maximum"), gettext("maximum raised to the uses"),
                                     detail=f"{uses} of {most}")  # fmt: skip
                        most = uses
                    start, until = m.aware(row["valid_from"]), m.aware(row["valid_until"])
                    if start and until and until < start:
                        self.problem(
                            "coupons", lid, gettext("valid until before valid from"), gettext("valid from dropped")
                        )
                        start = None
                    items.append((lid, {"code": row["code"].strip().upper(), "description": m.text(row["description"]),
                                        "kind": kind, "value": value, "min_purchase": m.money(row["min_purchase"]),
                                        "max_uses": most, "uses": uses, "valid_from": start, "valid_until": until,
                                        "status": m.on_off(row["status"]),
                                        "created_at": m.aware(row["created_at"])}))  # fmt: skip
                self.upsert("coupons", Coupon, items, match=("code",))

    def import_giftcards(self) -> None:
        for rows in self.batches("giftcards", "giftcard_id"):
            with self.batch("giftcards", rows):
                clients = self.keys("users", [r["client_id"] for r in rows], model=Client)
                before = self.keys("giftcards", [r["giftcard_id"] for r in rows])
                items = []
                for row in rows:
                    lid = row["giftcard_id"]
                    initial, balance = m.money(row["initial_balance"]), m.money(row["current_balance"])
                    if initial <= 0 or not ZERO <= balance <= initial:
                        self.skip("giftcards", lid, gettext("balance outside 0..initial"), gettext("skipped: will not reconcile"),
                                  detail=f"{balance} of {initial}")  # fmt: skip
                        continue
                    status = m.GIFT_CARD_STATUSES.get((row["status"] or "").lower())
                    if status is None:
                        status = GiftCardStatus.ACTIVE if balance else GiftCardStatus.SPENT
                        self.problem("giftcards", lid, gettext("unknown status %(status)r") % {"status": row["status"]},
                                     gettext("set to %(status)s") % {"status": status.label.lower()})  # fmt: skip
                    issued, expires = m.aware(row["issue_date"]), m.aware(row["expiration_date"])
                    items.append((lid, {"code": row["code"].strip().upper(), "initial_balance": initial,
                                        "current_balance": balance, "status": status,
                                        "issued_on": timezone.localtime(issued).date(),
                                        "expires_on": timezone.localtime(expires).date() if expires else None,
                                        "owner_id": clients.get(row["client_id"]),
                                        "created_at": m.aware(row["created_at"])}))  # fmt: skip
                balances = dict(GiftCard.objects.filter(pk__in=before.values()).values_list("pk", "current_balance"))
                pks = self.upsert("giftcards", GiftCard, items, match=("code",))
                self._gift_card_ledger([(lid, pks[lid], v) for lid, v in items if lid not in before])
                self._gift_card_moves([(pks[lid], balances[pks[lid]], v) for lid, v in items if pks[lid] in balances])

    def _gift_card_ledger(self, cards: list) -> None:
        """The balance moves only through ledger rows: an issue, and what was spent before the
        move as one redemption."""
        rows = []
        for _lid, pk, values in cards:
            initial, balance = values["initial_balance"], values["current_balance"]
            rows.append(GiftCardMovement(gift_card_id=pk, kind=GiftCardMovementKind.ISSUE, amount=initial,
                                         balance_after=initial, created_at=values["created_at"]))  # fmt: skip
            if balance != initial:
                rows.append(GiftCardMovement(gift_card_id=pk, kind=GiftCardMovementKind.REDEEM,
                                             amount=balance - initial, balance_after=balance,
                                             created_at=values["created_at"]))  # fmt: skip
        GiftCardMovement.objects.bulk_create(rows)

    @staticmethod
    def _gift_card_moves(cards: list) -> None:
        """A card spent (or refunded) in the old app since the last import: the difference as
        one ledger row, so the ledger still adds up to the balance."""
        rows = [
            GiftCardMovement(gift_card_id=pk, amount=values["current_balance"] - old, balance_after=values["current_balance"],
                             kind=GiftCardMovementKind.REDEEM if values["current_balance"] < old else GiftCardMovementKind.REFUND)
            for pk, old, values in cards if values["current_balance"] != old
        ]  # fmt: skip
        GiftCardMovement.objects.bulk_create(rows)
