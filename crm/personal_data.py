"""The personal-data registry: which fields of which models hold data about a client, how
sensitive they are, how each model reaches the client, and what erasure does with it.

GDPR export (``crm.gdpr``) reads it to collect everything held about a person, erasure reads it
to know what to delete or clear, and the system check ``beils.E003``–``E005`` reads it to refuse
a field or a relation nobody has classified. It lives in ``crm`` because the data subject (the
``Client``) is crm's; models of other apps are named by label, so nothing here imports them.

Staff accounts (``crm.User``) are personal data too, but of employees, not of clients: they are
out of scope for a client's access or erasure request and are listed under :data:`NOT_PERSONAL`.
"""

import re
from dataclasses import dataclass, field
from enum import StrEnum

from django.apps import apps
from django.db import models

from beils.lib.models import project_models


class Level(StrEnum):
    PERSONAL = "personal"  # identifies or describes the client
    SENSITIVE = "sensitive"  # identity documents; free text, which may say anything (health too)
    HEALTH = "health"  # special category (GDPR art. 9)


class Erasure(StrEnum):
    DELETE = "delete"  # the rows exist only because of the person: they go
    ANONYMISE = "anonymise"  # the row is a business or fiscal record: the registered fields are cleared
    KEEP = "keep"  # no personal field: the row stays, linked to the anonymised client
    SCRUB = "scrub"  # history rows of the person are deleted (beils.lib.history.history_scrub)


@dataclass(frozen=True)
class Holder:
    """A model that holds rows about a client.

    ``links`` say how a row reaches the client; a row belongs to the client when any of them
    matches:

    - ``"pk"`` (or ``"id"`` on a history table): the row *is* the client;
    - an ORM lookup ending at the client: ``"client"``, ``"cart__client"``;
    - ``"<column> in <app.Model>"``: the column holds the id of a row of another holder that
      belongs to the client (an invoice whose sale moved to the archive names it by id only);
    - ``"target"``: an audit entry whose target is the client or any row held about them;
    - ``"<method>()"``: the rows the model's manager method ``<method>(client_id)`` returns, for
      a model that names clients in a JSON list rather than a column (a merge record).
    """

    model: str
    section: str
    links: tuple[str, ...]
    fields: dict[str, Level] = field(default_factory=dict)
    erasure: Erasure = Erasure.KEEP
    #: Fields that look personal (see :data:`LOOKS_PERSONAL`) but are not, with why.
    not_personal: dict[str, str] = field(default_factory=dict)
    #: Columns left out of the export: another person's data (staff), not the client's.
    exclude: tuple[str, ...] = ()
    #: For a history table (django-simple-history): the label of the model it records.
    history_of: str | None = None

    def get_model(self) -> type[models.Model]:
        return apps.get_model(self.model)


P, S, H = Level.PERSONAL, Level.SENSITIVE, Level.HEALTH

_CLIENT_FIELDS = {
    "name": P,
    "surname": P,
    "email": P,
    "phone": P,
    "address": P,
    "city": P,
    "postal_code": P,
    "country": P,
    "gender": P,
    "birth_date": P,
    "document_type": P,
    "document_number": S,
    "notes": S,
    "legacy_id": P,  # the old system's key for the person: links them to data held elsewhere
}
_CONSENT_FIELDS = {"document_url": S, "document": S, "notes": S}
_BOOKING_FIELDS = {"notes": S}
_INVOICE_FIELDS = {"customer_name": P, "customer_tax_id": S}
_INVOICE_NOT_PERSONAL = {
    "reason": "why a rectifying invoice was issued, worded by staff; fiscal and immutable",
    "issuer_tax_id": "the salon's own tax id",
}
_SALE_NOT_PERSONAL = {"name": "the name of what was sold, a catalogue snapshot"}
_HISTORY_NOT_PERSONAL = {"history_change_reason": "set by code only; Beils sets none"}
_INVOICE_LINKS = ("cart__client", "cart_id in sales.ArchivedCart", "rectifies__cart__client")


def _history(of: "Holder", *, section: str, links: tuple[str, ...]) -> Holder:
    """The history table of ``of``: the same personal fields, and every version is the
    person's data (erasure deletes them all)."""
    app_label, model_name = of.model.split(".")
    return Holder(
        model=f"{app_label}.Historical{model_name}",
        section=section,
        links=links,
        fields=dict(of.fields),
        erasure=Erasure.SCRUB,
        not_personal={**of.not_personal, **_HISTORY_NOT_PERSONAL},
        exclude=of.exclude,
        history_of=of.model,
    )


CLIENT = Holder("crm.Client", "profile", ("pk",), _CLIENT_FIELDS, Erasure.ANONYMISE)
CONSENT = Holder("crm.Consent", "consents", ("client",), _CONSENT_FIELDS, Erasure.DELETE)
BOOKING = Holder("bookings.Booking", "bookings", ("client",), _BOOKING_FIELDS, Erasure.ANONYMISE)
INVOICE = Holder("sales.Invoice", "invoices", _INVOICE_LINKS, _INVOICE_FIELDS, Erasure.ANONYMISE, _INVOICE_NOT_PERSONAL)

#: Every model holding data about a client, in the order of the export's sections.
REGISTRY: tuple[Holder, ...] = (
    CLIENT,
    _history(CLIENT, section="profile_history", links=("id",)),
    CONSENT,
    _history(CONSENT, section="consent_history", links=("client",)),
    Holder("crm.Revoke", "revocations", ("client",), {"reason": S}, Erasure.DELETE),
    Holder("crm.Questionnaire", "questionnaires", ("client",), {"title": P, "answers": H}, Erasure.DELETE),
    BOOKING,
    _history(BOOKING, section="booking_history", links=("client",)),
    Holder("bookings.BookingItem", "booking_items", ("booking__client",), not_personal=_SALE_NOT_PERSONAL),
    Holder("sales.Cart", "sales", ("client",), {"notes": S}, Erasure.ANONYMISE),
    Holder("sales.CartItem", "sale_lines", ("cart__client",), not_personal=_SALE_NOT_PERSONAL),
    Holder("sales.Payment", "payments", ("cart__client",)),
    Holder("sales.ArchivedCart", "archived_sales", ("client",), {"notes": S}, Erasure.ANONYMISE),
    Holder("sales.ArchivedCartItem", "archived_sale_lines", ("cart__client",), not_personal=_SALE_NOT_PERSONAL),
    Holder("sales.ArchivedPayment", "archived_payments", ("cart__client",)),
    INVOICE,
    _history(INVOICE, section="invoice_history", links=_INVOICE_LINKS),
    Holder("sales.Debt", "debts", ("client",), {"notes": S}, Erasure.ANONYMISE),
    Holder("sales.DebtPayment", "debt_payments", ("debt__client",)),
    Holder("marketing.ClientBonus", "bonos", ("client",), not_personal={"name": "the bono's name, a snapshot"}),
    Holder("marketing.BonusRedemption", "bono_redemptions", ("client_bonus__client",), {"note": S}, Erasure.ANONYMISE),
    Holder("marketing.GiftCard", "gift_cards", ("owner",)),
    Holder("marketing.GiftCardMovement", "gift_card_movements", ("gift_card__owner",)),
    # The merges the client was kept or merged in: while a merge can be undone, ``personal``
    # keeps the email a merged client gave up. Erasure clears it and keeps the record, ids
    # only: the merge stands and can no longer be undone.
    Holder("crm.ClientMergeRecord", "merges", ("involving()",), {"personal": S}, Erasure.ANONYMISE),
    Holder(
        "audit.AuditEntry",
        "audit_entries",
        ("target",),
        # audit_log stores str(target): for a client, their full name.
        {"target_label": P},
        Erasure.ANONYMISE,
        not_personal={"actor_label": "the staff member or job that acted", "ip_address": "the staff member's"},
        exclude=("actor", "actor_label", "ip_address"),
    ),
)

#: Fields of the project's models that look personal but hold no client data, with why.
#: ``"*"`` covers every such field of a model (its personal data is not a client's); it never
#: covers a relation to a client.
NOT_PERSONAL: dict[str, dict[str, str]] = {
    "crm.User": {"*": "staff accounts: employees' data, outside a client's GDPR request"},
    "catalog.Category": {"name": "catalogue"},
    "catalog.Subcategory": {"name": "catalogue"},
    "catalog.Brand": {"name": "catalogue"},
    "catalog.Tag": {"name": "catalogue"},
    "catalog.Product": {"name": "catalogue"},
    "catalog.Service": {"name": "catalogue"},
    "catalog.Pack": {"name": "catalogue"},
    "marketing.Bonus": {"name": "catalogue"},
    "maintenance.Heartbeat": {"name": "a background component"},
    "maintenance.ScheduleSlot": {"name": "a periodic task's name"},
    "backups.Backup": {"file_name": "a backup file"},
    "transfer.Job": {
        "input_name": "an uploaded file's name",
        "output_name": "a result file's name",
        "ip_address": "the staff member's who ran it",
    },
    "maintenance.RetentionPolicy": {"name": "a policy", "notes": "why the policy exists"},
}

#: Names that suggest personal data, matched on whole words of a field's name.
LOOKS_PERSONAL = re.compile(
    r"(^|_)(name|surname|email|phone|mobile|address|city|postal|zip|birth|gender|document|passport|dni|nie|"
    r"nif|tax_id|note|notes|comment|comments|reason|answers|health|allergy|allergies|medical|iban|photo|"
    r"signature|ip)($|_)"
)
_TEXTUAL = (
    models.CharField,
    models.TextField,
    models.DateField,
    models.JSONField,
    models.FileField,
    models.GenericIPAddressField,
)


# --- Reading the registry -------------------------------------------------------------------


def holder_for(label: str, registry: tuple[Holder, ...] = REGISTRY) -> Holder | None:
    label = label.lower()
    return next((h for h in registry if h.model.lower() == label), None)


def looks_personal(model_field) -> bool:
    return isinstance(model_field, _TEXTUAL) and bool(LOOKS_PERSONAL.search(model_field.name))


def unregistered(
    registry: tuple[Holder, ...] = REGISTRY,
    not_personal: dict[str, dict[str, str]] = NOT_PERSONAL,
    candidates=None,
) -> list[tuple[str, str, str]]:
    """``(model label, field name, why)`` for every field the registry does not account for:

    - a field that looks personal and is neither a registered personal field of its model nor
      marked not personal;
    - a relation to a client, or to a model holding client data, from a model not registered;
    - a registered model or field that does not exist (a rename would silently drop it).
    """
    # A proxy model (an admin's second view of a model) has no table and no fields of its own.
    candidates = [m for m in project_models() if not m._meta.proxy] if candidates is None else candidates
    holders = {h.model.lower(): h for h in registry}
    problems = []
    for model in candidates:
        label = model._meta.label
        holder = holders.get(label.lower())
        exempt = not_personal.get(label, {})
        known = set(exempt) | (set(holder.fields) | set(holder.not_personal) if holder else set())
        for model_field in model._meta.concrete_fields:
            target = model_field.related_model if model_field.is_relation else None
            if target is not None and holder is None and target._meta.label_lower in holders:
                problems.append((label, model_field.name, f"links to {target._meta.label}, which holds client data"))
            elif looks_personal(model_field) and model_field.name not in known and "*" not in exempt:
                problems.append((label, model_field.name, "looks personal"))
    problems += _stale_entries(registry, not_personal)
    return problems


def _stale_entries(registry, not_personal) -> list[tuple[str, str, str]]:
    stale = []
    for label, names in [(h.model, {*h.fields, *h.not_personal, *h.exclude}) for h in registry] + [
        (label, set(names) - {"*"}) for label, names in not_personal.items()
    ]:
        try:
            model = apps.get_model(label)
        except LookupError:
            stale.append((label, "", "no such model"))
            continue
        existing = {f.name for f in model._meta.concrete_fields}
        stale += [(label, name, "no such field") for name in sorted(names - existing)]
    return stale
