"""Profiles: what one product's export files mean, as data.

Per entity, a profile gives the product's exact column names for Beils' targets (added to the
common spellings of :mod:`legacy.peers.targets`), the columns that form each row's stable key
(when the product has no id column, a hash of them), and how the product spells statuses and
payment methods. The date order and decimal separator are the profile's. Nothing here reads a
file; :mod:`legacy.peers.reading` does, with these rules.
"""

from dataclasses import dataclass, field
from functools import cached_property

from django.utils.functional import Promise

from bookings.models import BookingStatus
from legacy.peers.targets import BASE_TARGETS, ENTITIES
from marketing.models import GiftCardStatus
from sales.models import CartStatus, PaymentMethod
from transfer.mapping import Target, normalised

#: Spellings common to every product; a profile's own win over these.
BOOKING_STATUSES = {
    "booked": BookingStatus.CONFIRMED, "confirmed": BookingStatus.CONFIRMED, "confirmada": BookingStatus.CONFIRMED,
    "new": BookingStatus.PENDING, "pending": BookingStatus.PENDING, "pendiente": BookingStatus.PENDING,
    "unconfirmed": BookingStatus.PENDING, "requested": BookingStatus.PENDING,
    "completed": BookingStatus.COMPLETED, "complete": BookingStatus.COMPLETED, "finished": BookingStatus.COMPLETED,
    "checked out": BookingStatus.COMPLETED, "paid": BookingStatus.COMPLETED, "arrived": BookingStatus.COMPLETED,
    "completada": BookingStatus.COMPLETED, "realizada": BookingStatus.COMPLETED,
    "cancelled": BookingStatus.CANCELLED, "canceled": BookingStatus.CANCELLED, "cancelada": BookingStatus.CANCELLED,
    "anulada": BookingStatus.CANCELLED,
    "no show": BookingStatus.NO_SHOW, "noshow": BookingStatus.NO_SHOW, "did not show": BookingStatus.NO_SHOW,
    "no presentado": BookingStatus.NO_SHOW, "no se presento": BookingStatus.NO_SHOW,
}  # fmt: skip
SALE_STATUSES = {
    "completed": CartStatus.COMPLETED, "complete": CartStatus.COMPLETED, "paid": CartStatus.COMPLETED,
    "closed": CartStatus.COMPLETED, "pagada": CartStatus.COMPLETED, "cobrada": CartStatus.COMPLETED,
    "completada": CartStatus.COMPLETED,
    "voided": CartStatus.CANCELLED, "void": CartStatus.CANCELLED, "cancelled": CartStatus.CANCELLED,
    "canceled": CartStatus.CANCELLED, "refunded": CartStatus.CANCELLED, "anulada": CartStatus.CANCELLED,
}  # fmt: skip
BALANCE_STATUSES = {
    "active": GiftCardStatus.ACTIVE, "activa": GiftCardStatus.ACTIVE, "activo": GiftCardStatus.ACTIVE,
    "valid": GiftCardStatus.ACTIVE, "redeemed": GiftCardStatus.SPENT, "spent": GiftCardStatus.SPENT,
    "used": GiftCardStatus.SPENT, "canjeada": GiftCardStatus.SPENT, "expired": GiftCardStatus.EXPIRED,
    "caducada": GiftCardStatus.EXPIRED, "cancelled": GiftCardStatus.CANCELLED, "canceled": GiftCardStatus.CANCELLED,
    "void": GiftCardStatus.CANCELLED, "anulada": GiftCardStatus.CANCELLED,
}  # fmt: skip
PAYMENT_METHODS = {
    "cash": PaymentMethod.CASH, "efectivo": PaymentMethod.CASH, "metalico": PaymentMethod.CASH,
    "card": PaymentMethod.CARD, "credit card": PaymentMethod.CARD, "debit card": PaymentMethod.CARD,
    "tarjeta": PaymentMethod.CARD, "credit debit card": PaymentMethod.CARD, "visa": PaymentMethod.CARD,
    "mastercard": PaymentMethod.CARD, "card terminal": PaymentMethod.CARD, "datafono": PaymentMethod.CARD,
    "bizum": PaymentMethod.BIZUM,
    "bank transfer": PaymentMethod.TRANSFER, "transfer": PaymentMethod.TRANSFER, "transferencia": PaymentMethod.TRANSFER,
}  # fmt: skip


@dataclass(frozen=True)
class EntityProfile:
    """One kind of file of a product."""

    #: {target name: the product's column names for it}
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Targets whose values form a row's key when the file has no id column (hashed).
    key_from: tuple[str, ...] = ()
    statuses: dict[str, str] = field(default_factory=dict)
    #: Required targets beyond the common ones (e.g. a product whose sales always carry an id).
    required: tuple[str, ...] = ()
    #: Headers that say a file is *not* this entity (Square's per-payment Transactions file has
    #: the sales columns too, plus "Total Collected").
    not_if: tuple[str, ...] = ()
    #: Columns that look like a target but are not (Fresha's "Tax" names a tax, it is no rate).
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    label: str | Promise
    #: Where the product documents its export columns (cited by the tests).
    source_url: str = ""
    date_order: str = "dmy"
    decimal_separator: str | None = None
    #: VAT rate when a file gives none (Spain's general rate).
    default_tax_rate: str = "21"
    entities: dict[str, EntityProfile] = field(default_factory=dict)
    payment_methods: dict[str, str] = field(default_factory=dict)
    #: The generic profile recognises any file through its mapping: no columns of its own.
    generic: bool = False
    #: Cell values that mean "nothing" in this product's files (an expiry of "Never").
    blank_words: tuple[str, ...] = ("never", "nunca", "n/a", "-", "—")
    #: The product writes phone numbers with their country code but no "+" (Fresha: "34 612 345 678").
    phone_code_without_plus: bool = False
    #: Suffixes the product adds to names that are not part of them (Fresha's " - From").
    name_suffixes: tuple[str, ...] = ()
    #: The name inside a sentence ("Import from …"), when ``label`` (a choice's) reads wrong there.
    in_sentence: str | Promise = ""

    @property
    def named(self) -> str:
        return str(self.in_sentence or self.label)

    def entity(self, entity: str) -> EntityProfile:
        return self.entities.get(entity, EntityProfile())

    @cached_property
    def targets(self) -> dict[str, tuple[Target, ...]]:
        """Per entity, the common targets with this product's column names added."""
        result = {}
        for entity in ENTITIES:
            extra = self.entity(entity).columns
            required = set(self.entity(entity).required)
            result[entity] = tuple(
                Target(t.name, t.label, (*extra.get(t.name, ()), *t.synonyms), t.required or t.name in required, t.kind)
                for t in BASE_TARGETS[entity]
            )
        return result

    def own_columns(self, entity: str) -> set[str]:
        """The product's exact column names for ``entity``, normalised (to recognise its files)."""
        return {normalised(c) for names in self.entity(entity).columns.values() for c in names}

    def status(self, entity: str, value: str | None) -> str | None:
        spelled = normalised(value)
        own = {normalised(k): v for k, v in self.entity(entity).statuses.items()}
        common = {"appointments": BOOKING_STATUSES, "balances": BALANCE_STATUSES}.get(entity, SALE_STATUSES)
        return own.get(spelled) or common.get(spelled)

    def payment_method(self, value: str | None) -> str | None:
        spelled = normalised(value)
        own = {normalised(k): v for k, v in self.payment_methods.items()}
        return own.get(spelled) or PAYMENT_METHODS.get(spelled)


def profiles() -> dict[str, Profile]:
    from legacy.peers.profiles import booksy, fresha, generic, phorest, square, timely

    return {p.PROFILE.name: p.PROFILE for p in (fresha, phorest, timely, booksy, square, generic)}


def get_profile(name: str) -> Profile | None:
    return profiles().get((name or "").strip().lower())
