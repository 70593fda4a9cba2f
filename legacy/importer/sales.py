"""Sales with their lines, payments and old invoices; debts and their payments."""

from collections import defaultdict
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext

from beils.lib.money import split_vat
from crm.models import Client
from legacy import mapping as m
from legacy.importer.base import ZERO, ImporterBase
from legacy.models import LegacyInvoice
from marketing.models import (
    BonusRedemption,
)
from sales.models import Cart, CartItem, CartStatus, Debt, DebtPayment, Payment, PaymentMethod
from sales.pricing import allocate_discount


class SalesImport(ImporterBase):
    def import_carts(self) -> None:
        for rows in self.batches("carts", "cart_id"):
            with self.batch("carts", rows):
                ids = [r["cart_id"] for r in rows]
                lines = self.src.rows_in("cart_items", "cart_id", ids)
                self.counts["cart_items"].read += len(lines)
                marks = ",".join(["%s"] * len(ids))
                sql = f"SELECT DISTINCT cart_id FROM debts WHERE cart_id IN ({marks})"  # noqa: S608
                on_credit = {r[0] for r in self.src.tuples(sql, ids)}
                self._carts(rows, lines, on_credit)

    def _carts(self, rows: list[dict], lines: list[dict], on_credit: set) -> None:
        clients = self.keys("users", [r["user_id"] for r in rows], model=Client)
        bookings = self.keys("bookings", [r["booking_id"] for r in rows])
        targets = self._line_targets(lines)
        by_cart = defaultdict(list)
        for line in lines:
            by_cart[line["cart_id"]].append(line)
        carts, cart_lines, payments = [], {}, []
        for row in rows:
            lid = row["cart_id"]
            status, known = m.sale_status(
                row["status"], has_debt=lid in on_credit, invoiced=bool(row["invoice_number"])
            )
            if not known:
                self.problem("carts", lid, gettext("unknown sale status %(status)r") % {"status": row["status"]},
                             gettext("imported as %(status)s") % {"status": status.label.lower()})  # fmt: skip
            client = clients.get(row["user_id"])
            if row["user_id"] and client is None:
                self.problem(
                    "carts", lid, gettext("sale to someone who is not a client"), gettext("imported as a walk-in sale")
                )
            kept = self._cart_lines(lid, by_cart[lid], targets)
            values, cart_lines[lid] = self._cart_totals(row, kept)
            created = m.aware(row["created_at"])
            carts.append((lid, {**values, "client_id": client, "booking_id": bookings.get(row["booking_id"]),
                                "status": status, "notes": m.text(row["notes"]), "legacy_id": lid,
                                "completed_at": created if status == CartStatus.COMPLETED else None,
                                "created_at": created}))  # fmt: skip
            if status == CartStatus.COMPLETED and lid not in on_credit and values["total"] > 0:
                payments.append((lid, self._payment(row, values["total"], created)))
        pks = self.upsert("carts", Cart, carts, match=("legacy_id",))
        self._write_cart_lines(cart_lines, pks, bookings={r["cart_id"]: bookings.get(r["booking_id"]) for r in rows})
        self.upsert("carts.payment", Payment, [(lid, {**v, "cart_id": pks[lid]}) for lid, v in payments])
        self._legacy_invoices([r for r in rows if r["invoice_number"]], pks)

    def _line_targets(self, lines: list[dict]) -> dict[str, dict]:
        ids = {kind: [line["item_id"] for line in lines if line["item_type"].lower() == kind]
               for kind in ("product", "service", "package", "package_sale")}  # fmt: skip
        return {
            "product": ("product_id", self.keys("products", ids["product"])),
            "service": ("service_id", self.keys("services", ids["service"])),
            # A bono session redeemed (at 0): item_id is the client's package.
            "package": ("client_bonus_id", self.keys("client_packages", ids["package"])),
            # A bono sold: item_id is the catalogue package.
            "package_sale": ("bonus_id", self.keys("packages", ids["package_sale"])),
        }

    def _cart_lines(self, cart_lid: str, lines: list[dict], targets: dict) -> list[tuple[dict, str, int]]:
        kept = []
        for line in lines:
            lid, kind = line["cart_item_id"], line["item_type"].lower()
            field, found = targets.get(kind, (None, {}))
            if line["item_id"] not in found:
                self.skip("cart_items", lid, gettext("sale line points at nothing"), gettext("line skipped; the sale keeps its total"),
                          detail=f"{line['item_type']} {line['item_id']}")  # fmt: skip
                continue
            if (line["quantity"] or 0) < 1 or m.money(line["total"]) < 0:
                self.skip("cart_items", lid, gettext("sale line with no quantity or a negative total"),
                          gettext("line skipped; the sale keeps its total"))  # fmt: skip
                continue
            kept.append((line, field, found[line["item_id"]]))
        return kept

    def _cart_totals(self, row: dict, kept: list) -> tuple[dict, list]:
        lid = row["cart_id"]
        total, subtotal, discount = m.money(row["total"]), m.money(row["subtotal"]), m.money(row["discount"])
        if discount < 0:
            self.problem(
                "carts", lid, gettext("negative discount"), gettext("discount set to 0.00"), detail=str(discount)
            )
            discount = ZERO
        if total < 0:
            self.problem("carts", lid, gettext("negative total"), gettext("total set to 0.00: will not reconcile"),
                         detail=str(total))  # fmt: skip
            total = ZERO
        befores = [m.money(line["total"]) for line, _, _ in kept]
        discount_lines = min(discount, sum(befores, ZERO))
        shares = allocate_discount(discount_lines, befores) if befores else []
        written = []
        for (line, field, target), before, share in zip(kept, befores, shares, strict=True):
            rate = self._rate("cart_items", line["cart_item_id"], line["tax_rate"])
            gross = before - share
            net, tax = split_vat(gross, rate)
            written.append((line, {field: target, "name": (m.text(line["name"]) or "?")[:150],
                                   "quantity": line["quantity"], "unit_price": max(ZERO, m.money(line["unit_price"])),
                                   "tax_rate": rate, "discount": share, "net": net, "tax": tax, "gross": gross,
                                   "created_at": m.aware(line["created_at"])}))  # fmt: skip
        gross_sum = sum((v["gross"] for _, v in written), ZERO)
        if gross_sum != total:
            self.problem("carts", lid, gettext("the lines do not add up to the sale's total"),
                         gettext("the sale keeps the old total; VAT is taken from the lines"))  # fmt: skip
        tax_total = min(total, sum((v["tax"] for _, v in written), ZERO))
        values = {"subtotal": subtotal, "discount_total": discount, "total": total, "tax_total": tax_total,
                  "net_total": total - tax_total}  # fmt: skip
        return values, written

    def _payment(self, row: dict, total: Decimal, when) -> dict:
        method = m.payment_method(row["payment_method"])
        if method is None:
            method = PaymentMethod.CASH
            spelled = (row["payment_method"] or "").lower()
            reason = (
                gettext("mixed payment: the split is not in the old database")
                if spelled == "mixed"
                else gettext("unknown payment method %(method)r") % {"method": row["payment_method"]}
            )
            self.problem("carts", row["cart_id"], reason, gettext("recorded as one cash payment"), level="info")
        if method == PaymentMethod.GIFT_CARD:
            method = PaymentMethod.CASH  # the old sale does not say which card: Payment needs one
        return {"method": method, "amount": total, "paid_at": when, "created_at": when}

    def _write_cart_lines(self, cart_lines: dict, carts: dict, *, bookings: dict) -> None:
        items = [(line["cart_item_id"], {**values, "cart_id": carts[cart_lid]})
                 for cart_lid, written in cart_lines.items() for line, values in written]  # fmt: skip
        if not items:
            return
        pks = self.upsert("cart_items", CartItem, items)
        owner = {line["cart_item_id"]: cart_lid for cart_lid, written in cart_lines.items() for line, _ in written}
        # Sessions used: ledger rows only. The old remaining count was imported as it stands.
        redemptions = [(lid, {"client_bonus_id": v["client_bonus_id"], "sessions": v["quantity"], "cart_item_id": pks[lid],
                              "booking_id": bookings.get(owner[lid]),
                              "note": "Imported from Beils Dashboard", "created_at": v["created_at"]})
                       for lid, v in items if v.get("client_bonus_id")]  # fmt: skip
        if redemptions:
            self.upsert("cart_items.redemption", BonusRedemption, redemptions)

    def _legacy_invoices(self, rows: list[dict], carts: dict) -> None:
        stored = {i.legacy_id: i for i in LegacyInvoice.objects.filter(legacy_id__in=[r["cart_id"] for r in rows])}
        new = []
        for row in rows:
            lid = row["cart_id"]
            invoice = stored.get(lid)
            if invoice is not None:
                # Issued invoices never change: a difference is reported, not applied.
                if invoice.number != row["invoice_number"] or invoice.hash != (row["hash"] or ""):
                    self.problem("invoices", lid, "the old invoice differs from the one imported before",
                                 "kept as first imported")  # fmt: skip
                self.counts["invoices"].unchanged += 1
                continue
            new.append(LegacyInvoice(
                sale_id=carts.get(lid), number=row["invoice_number"], kind=row["invoice_type"] or "",
                issued_at=m.aware(row["created_at"]), total=m.money(row["total"]),
                payment_method=row["payment_method"] or "", hash=row["hash"] or "", previous_hash=row["previous_hash"],
                qr_content=row["qr_content"], aeat_status=row["aeat_status"] or "", legacy_id=lid,
            ))  # fmt: skip
        LegacyInvoice.objects.bulk_create(new)
        self.counts["invoices"].read += len(rows)
        self.counts["invoices"].created += len(new)

    def import_debts(self) -> None:
        for rows in self.batches("debts", "debt_id"):
            with self.batch("debts", rows):
                clients = self.keys("users", [r["user_id"] for r in rows], model=Client)
                carts = self.keys("carts", [r["cart_id"] for r in rows])
                items = []
                for row in rows:
                    lid, client = row["debt_id"], clients.get(row["user_id"])
                    amount, remaining = m.money(row["amount"]), m.money(row["remaining"])
                    if client is None:
                        self.skip("debts", lid, "debt of someone who is not a client", "skipped: will not reconcile")
                        continue
                    if amount <= 0:
                        self.skip("debts", lid, "debt of zero or less", "skipped", detail=str(amount))
                        continue
                    if not ZERO <= remaining <= amount:
                        self.problem("debts", lid, "remaining outside 0..amount", "clamped: will not reconcile",
                                     detail=f"{remaining} of {amount}")  # fmt: skip
                        remaining = min(max(remaining, ZERO), amount)
                    status = m.debt_status(remaining, amount)
                    if m.LEGACY_DEBT_STATUSES.get((row["status"] or "").lower()) != status:
                        self.problem("debts", lid, f"status {row['status']!r} does not match what remains",
                                     f"status set from the amount remaining: {status.lower()}")  # fmt: skip
                    due = m.aware(row["due_date"])
                    items.append((lid, {"client_id": client, "cart_id": carts.get(row["cart_id"]), "amount": amount,
                                        "remaining": remaining, "status": status,
                                        "due_date": timezone.localtime(due).date() if due else None,
                                        "notes": m.text(row["notes"]), "legacy_id": lid,
                                        "created_at": m.aware(row["created_at"])}))  # fmt: skip
                self.upsert("debts", Debt, items, match=("legacy_id",))

    def import_debt_payments(self) -> None:
        for rows in self.batches("debt_payments", "payment_id"):
            with self.batch("debt_payments", rows):
                debts = self.keys("debts", [r["debt_id"] for r in rows])
                items = []
                for row in rows:
                    lid, debt, amount = row["payment_id"], debts.get(row["debt_id"]), m.money(row["amount"])
                    if debt is None or amount <= 0:
                        self.skip("debt_payments", lid, "payment of an unknown debt, or of no amount")
                        continue
                    method = m.payment_method(row["payment_method"])
                    if method in (None, PaymentMethod.GIFT_CARD):
                        self.problem("debt_payments", lid, f"payment method {row['payment_method']!r}",
                                     "recorded as cash", level="info")  # fmt: skip
                        method = PaymentMethod.CASH
                    items.append((lid, {"debt_id": debt, "amount": amount, "method": method,
                                        "paid_at": m.aware(row["payment_date"]),
                                        "created_at": m.aware(row["created_at"])}))  # fmt: skip
                self.upsert("debt_payments", DebtPayment, items)
