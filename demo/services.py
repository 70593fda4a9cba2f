"""Demo and test data: deterministic for a given random seed, client count and anchor date.

Everything is written with multi-row INSERTs in chunks of clients, inside one transaction, and
marked ``is_demo`` so that ``cleanup --test-data`` (and ``seed --flush``) can find it again.
History is spread over the three years before the anchor date, plus two weeks of upcoming
bookings, so that archiving and reports have work to do. The rows are made by the builders in
``demo/builders/``, run in order by ``demo.orchestrator``.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone

from bookings.models import Booking, BookingItem
from catalog.models import Brand, Category, Pack, PackItem, Product, Service, Subcategory, Tag
from crm.models import Client, Consent, Questionnaire, Revoke, User
from demo.orchestrator import build_salon
from marketing.models import Bonus, BonusRedemption, ClientBonus, Coupon, GiftCard, GiftCardMovement
from sales.models import Cart, CartItem, Debt, DebtPayment, Invoice, Payment
from sales.services import invoice_sequences_resync

# Models written by the seed, parents before children. Flushing walks it backwards.
SEEDED_MODELS = [
    User, Tag, Brand, Category, Subcategory, Service, Product, Pack, PackItem, Bonus, Coupon,
    Client, Consent, Revoke, Questionnaire, ClientBonus, GiftCard, Booking, BookingItem,
    Cart, CartItem, Payment, Debt, DebtPayment, BonusRedemption, GiftCardMovement, Invoice,
]  # fmt: skip


@dataclass
class SeedReport:
    random_seed: int
    clients: int
    anchor: date
    counts: Counter = field(default_factory=Counter)
    skipped: bool = False

    def as_dict(self) -> dict:
        return {
            "random_seed": self.random_seed,
            "clients": self.clients,
            "anchor": self.anchor.isoformat(),
            "skipped": self.skipped,
            "rows": dict(sorted(self.counts.items())),
            "total_rows": sum(self.counts.values()),
        }


def demo_data_present() -> bool:
    return User.all_objects.filter(is_demo=True).exists() or Client.all_objects.filter(is_demo=True).exists()


def demo_data_flush() -> Counter:
    """Delete every demo row, children first, with one DELETE per table."""
    removed = Counter()
    with transaction.atomic():
        for through, owner in [
            (Product.tags.through, "product"),
            (Bonus.services.through, "bonus"),
            (ClientBonus.services.through, "clientbonus"),
        ]:
            removed[through._meta.label] = through.objects.filter(**{f"{owner}__is_demo": True})._raw_delete(
                through.objects.db
            )
        for model in reversed(SEEDED_MODELS):
            if model is User:
                User.groups.through.objects.filter(user__is_demo=True)._raw_delete(User.objects.db)
            removed[model._meta.label] = model._base_manager.filter(is_demo=True)._raw_delete(model._base_manager.db)
        invoice_sequences_resync()
    return removed


def demo_data_seed(
    *, clients: int = 300, random_seed: int = 42, anchor: date | None = None, flush: bool = False
) -> SeedReport:
    """Create the demo salon. Does nothing if demo data exists, unless ``flush`` replaces it."""
    anchor = anchor or timezone.localdate()
    report = SeedReport(random_seed=random_seed, clients=clients, anchor=anchor)
    with transaction.atomic():
        if flush:
            demo_data_flush()
        elif demo_data_present():
            report.skipped = True
            return report
        build_salon(counts=report.counts, random_seed=random_seed, clients=clients, anchor=anchor)
    return report


def fingerprint() -> str:
    """A digest of the demo data's business content, independent of ids and row order."""
    tables = [
        Client.all_objects.values_list("name", "surname", "email", "phone", "birth_date", "document_number", "status"),
        Consent.objects.values_list("client__email", "kind", "status", "signed_at"),
        Cart.objects.values_list("status", "completed_at", "subtotal", "discount_total", "total", "client__email"),
        CartItem.objects.values_list(
            "cart__completed_at", "name", "quantity", "unit_price", "discount", "net", "tax", "gross"
        ),
        Payment.objects.values_list("cart__completed_at", "method", "amount"),
        Debt.objects.values_list("client__email", "amount", "remaining", "status"),
        Booking.objects.values_list("start", "end", "status", "staff__email", "client__email"),
        ClientBonus.objects.values_list("client__email", "name", "sessions_remaining", "status"),
        GiftCard.objects.values_list("code", "current_balance", "status"),
        Invoice.objects.values_list("number", "kind", "total", "hash"),
    ]
    digest = hashlib.sha256()
    for rows in tables:
        for row in sorted(repr(row) for row in rows.filter(is_demo=True)):
            digest.update(row.encode())
    return digest.hexdigest()
