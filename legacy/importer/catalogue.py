"""Products, services, packages (bonos and packs) and the bonos clients bought."""

from collections import defaultdict
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext

from catalog.models import Pack, PackItem, Product, Service
from crm.models import Client
from legacy import mapping as m
from legacy.importer.base import ZERO, ImporterBase
from marketing.models import (
    Bonus,
    ClientBonus,
    ClientBonusStatus,
)


class CatalogueImport(ImporterBase):
    def import_products(self) -> None:
        for rows in self.batches("products", "product_id"):
            with self.batch("products", rows):
                items = []
                for row in rows:
                    lid = row["product_id"]
                    sku = m.text(row["sku"])
                    if sku is None:
                        sku = f"LEGACY-{lid[:8].upper()}"
                        self.problem("products", lid, gettext("product without SKU"),
                                     gettext("SKU set to %(sku)s") % {"sku": sku}, level="info")  # fmt: skip
                    items.append((lid, {
                        "name": m.text(row["name"]) or sku, "description": m.text(row["description"]), "sku": sku,
                        "barcode": m.text(row["barcode"]), "price": self._price("products", lid, row["price"]),
                        "tax_rate": self._rate("products", lid, row["tax_rate"]), "stock": row["stock"] or 0,
                        "min_stock": max(0, row["min_stock"] or 0), "status": m.on_off(row["status"]),
                        "legacy_id": lid, "created_at": m.aware(row["created_at"]),
                    }))  # fmt: skip
                self.upsert("products", Product, items, match=("legacy_id", "sku"))

    def _price(self, entity: str, lid: str, value) -> Decimal:
        price = m.money(value)
        if price < 0:
            self.problem(entity, lid, gettext("negative price"), gettext("price set to 0.00"), detail=str(price))
            return ZERO
        return price

    def _rate(self, entity: str, lid: str, value) -> Decimal:
        rate = m.money(value)
        if not ZERO <= rate <= 100:
            self.problem(entity, lid, gettext("VAT rate outside 0–100 %"), gettext("set to 21 %"), detail=str(rate))
            return Decimal("21.00")
        return rate

    def import_services(self) -> None:
        for rows in self.batches("services", "service_id"):
            with self.batch("services", rows):
                items = []
                for row in rows:
                    lid = row["service_id"]
                    code = m.text(row["code"])
                    if code is None:
                        code = f"LEGACY-{lid[:8].upper()}"
                        self.problem("services", lid, gettext("service without code"),
                                     gettext("code set to %(code)s") % {"code": code}, level="info")  # fmt: skip
                    duration = row["duration"] or 0
                    if duration <= 0:
                        self.problem(
                            "services",
                            lid,
                            gettext("duration not positive"),
                            gettext("set to 30 minutes"),
                            detail=str(duration),
                        )
                        duration = 30
                    items.append((lid, {
                        "name": m.text(row["name"]) or code, "description": m.text(row["description"]), "code": code,
                        "price": self._price("services", lid, row["price"]),
                        "tax_rate": self._rate("services", lid, row["tax_rate"]),
                        "duration_minutes": duration, "status": m.on_off(row["status"]), "legacy_id": lid,
                        "created_at": m.aware(row["created_at"]),
                    }))  # fmt: skip
                self.upsert("services", Service, items, match=("legacy_id", "code"))

    def import_packages(self) -> None:
        """INDIVIDUAL → a bono of its service; MIXTO → a bono of its services (what a client
        package points at) and a pack with every line, products included."""
        for rows in self.batches("packages", "package_id"):
            with self.batch("packages", rows):
                lines = self.src.rows_in("package_items", "package_id", [r["package_id"] for r in rows])
                self.counts["package_items"].read += len(lines)
                services = self.keys("services", [i["item_id"] for i in lines] + [r["service_id"] for r in rows])
                products = self.keys("products", [i["item_id"] for i in lines])
                by_package = defaultdict(list)
                for line in lines:
                    by_package[line["package_id"]].append(line)
                bonuses, packs = [], []
                for row in rows:
                    lid = row["package_id"]
                    sessions = row["total_sessions"] or 0
                    if sessions < 1:
                        self.problem(
                            "packages", lid, gettext("no sessions"), gettext("set to 1 session"), detail=str(sessions)
                        )
                    common = {"name": m.text(row["name"]) or lid, "price": self._price("packages", lid, row["price"]),
                              "status": m.on_off(row["status"]), "legacy_id": lid,
                              "created_at": m.aware(row["created_at"])}  # fmt: skip
                    bonuses.append(
                        (lid, {**common, "code": f"BONO-{lid[:8].upper()}", "total_sessions": max(1, sessions)})
                    )
                    if (row["type"] or "").upper() == "MIXTO":
                        packs.append((lid, {**common, "code": f"PACK-{lid[:8].upper()}"}))
                bonus_pks = self.upsert("packages", Bonus, bonuses, match=("legacy_id",))
                pack_pks = self.upsert("packages.pack", Pack, packs, match=("legacy_id",)) if packs else {}
                for row in rows:
                    lid = row["package_id"]
                    wanted = {services[i["item_id"]] for i in by_package[lid]
                              if i["item_type"].upper() == "SERVICE" and i["item_id"] in services}  # fmt: skip
                    if row["service_id"] in services:
                        wanted.add(services[row["service_id"]])
                    if not wanted:
                        self.problem(
                            "packages", lid, gettext("bono without any service"), gettext("imported without services")
                        )
                    Bonus.all_objects.get(pk=bonus_pks[lid]).services.set(wanted)
                self._pack_items(by_package, pack_pks, services, products)
                for package_id in set(by_package) - set(pack_pks):
                    for line in by_package[package_id]:
                        self.counts["package_items"].skipped += 1
                        self.problem("package_items", line["package_item_id"], gettext("line of an INDIVIDUAL package"),
                                     gettext("not a pack: its service is the bono's service"), level="info")  # fmt: skip

    def _pack_items(self, by_package, pack_pks, services, products) -> None:
        items = []
        for package_id, pack_pk in pack_pks.items():
            for line in by_package[package_id]:
                lid, kind = line["package_item_id"], line["item_type"].upper()
                target = {"SERVICE": ("service_id", services), "PRODUCT": ("product_id", products)}.get(kind)
                if target is None or line["item_id"] not in target[1]:
                    self.skip("package_items", lid, gettext("pack line points at nothing"),
                              detail=f"{line['item_type']} {line['item_id']}")  # fmt: skip
                    continue
                items.append((lid, {"pack_id": pack_pk, target[0]: target[1][line["item_id"]],
                                    "quantity": max(1, line["quantity"] or 1)}))  # fmt: skip
        if items:
            self.upsert("package_items", PackItem, items)

    def import_client_packages(self) -> None:
        self.counts["client_package_items"].read = self.counts["client_package_items"].skipped = self.src.count(
            "client_package_items"
        )
        if self.counts["client_package_items"].read:
            self.problem("client_package_items", None, gettext("per-line session counts of a client package"),
                         gettext("not carried: Beils counts the sessions of the whole bono"), level="info")  # fmt: skip
        for rows in self.batches("client_packages", "client_package_id"):
            with self.batch("client_packages", rows):
                clients = self.keys("users", [r["user_id"] for r in rows], model=Client)
                bonus_pks = self.keys("packages", [r["package_id"] for r in rows])
                bonuses = Bonus.all_objects.prefetch_related("services").in_bulk(set(bonus_pks.values()))
                items = []
                for row in rows:
                    lid = row["client_package_id"]
                    client, bonus = clients.get(row["user_id"]), bonuses.get(bonus_pks.get(row["package_id"]))
                    if client is None or bonus is None:
                        self.skip("client_packages", lid, gettext("client package of an unknown client or package"))
                        continue
                    total, left = row["total_sessions"] or 0, row["remaining_sessions"] or 0
                    if total < 1 or not 0 <= left <= total:
                        self.problem("client_packages", lid, gettext("sessions left outside 0..total"),
                                     gettext("clamped into 0..total (total raised to what is left)"),
                                     detail=f"{left} of {total}")  # fmt: skip
                        left, total = max(0, left), max(1, total, left)
                    expires = m.aware(row["expiry_date"])
                    expires_on = timezone.localtime(expires).date() if expires else None
                    status = ClientBonusStatus.ACTIVE
                    if left == 0:
                        status = ClientBonusStatus.EXHAUSTED
                    elif expires_on and expires_on < timezone.localdate():
                        status = ClientBonusStatus.EXPIRED
                    created = m.aware(row["created_at"])
                    items.append((lid, {
                        "client_id": client, "bonus_id": bonus.pk, "name": bonus.name, "sessions_total": total,
                        "sessions_remaining": left, "price_paid": bonus.price,
                        "purchased_on": timezone.localtime(created).date(), "expires_on": expires_on,
                        "status": status, "legacy_id": lid, "created_at": created,
                    }))  # fmt: skip
                before = set(self.keys("client_packages", [lid for lid, _ in items]))
                pks = self.upsert("client_packages", ClientBonus, items, match=("legacy_id",))
                through = ClientBonus.services.through
                links = [through(clientbonus_id=pks[lid], service_id=s.pk)
                         for lid, values in items if lid not in before
                         for s in bonuses[values["bonus_id"]].services.all()]  # fmt: skip
                through.objects.bulk_create(links, ignore_conflicts=True)
