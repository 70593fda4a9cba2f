"""A client's whole story, for the top of their page in the admin: appointments, purchases and
spend, what they owe, their bonos and gift cards, consents and what is missing, health answers
with any allergy or contraindication flagged, and the latest audit entries about them.

crm sits below sales, bookings and marketing, so their rows are read through the client's
reverse relations (``client.carts``, ``client.bookings``, ``client.debts``, ``client.bonuses``,
``client.gift_cards``), never by importing those apps. A fixed number of queries, whatever the
length of the history: each list is cut at ``RECENT`` rows and its totals are aggregates.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from audit.models import AuditEntry
from crm.models import Client, ConsentStatus, ConsentType

RECENT = 5
HISTORY = 10
#: Words that mark a health question or answer as an allergy or a contraindication (Spanish and
#: English, as intake forms were written in either).
HEALTH_ALERT_WORDS = ("alerg", "allerg", "contraindic", "intoler")
#: Answers that say "nothing to report".
NOTHING = {"", "no", "none", "ninguna", "ninguno", "nada", "n/a", "-", "false", "0"}

# Statuses of the rooms above, by value (crm may not import their enums).
_CANCELLED_BOOKING = "CANCELLED"
_COMPLETED_SALE = "COMPLETED"
_PAID_DEBT = "PAID"
_ACTIVE = "ACTIVE"


@dataclass
class ConsentLine:
    kind: str
    label: str
    consent: object | None  # the Consent row, if the client has one of this type
    required: bool  # a booked service needs it

    @property
    def missing(self) -> bool:
        return self.required and (self.consent is None or self.consent.status != ConsentStatus.SIGNED)


@dataclass
class ClientStory:
    upcoming_bookings: list = field(default_factory=list)
    past_bookings: list = field(default_factory=list)
    bookings_count: int = 0
    purchases: list = field(default_factory=list)
    purchases_count: int = 0
    spend: Decimal = Decimal("0")
    debts: list = field(default_factory=list)
    debt_total: Decimal = Decimal("0")
    bonos: list = field(default_factory=list)
    gift_cards: list = field(default_factory=list)
    consents: list[ConsentLine] = field(default_factory=list)
    questionnaires: list = field(default_factory=list)
    health_alerts: list[tuple[str, str, str]] = field(default_factory=list)  # (questionnaire, question, answer)
    history: list = field(default_factory=list)

    @property
    def missing_consents(self) -> list[ConsentLine]:
        return [line for line in self.consents if line.missing]


def client_story(client: Client) -> ClientStory:
    """Everything the salon knows about ``client``, read in a fixed number of queries. Expects
    the ``missing_<TYPE>`` annotations of ``ClientQuerySet.with_missing_consents`` on
    ``client`` (the admin's ``get_object`` sets them); without them no consent is "required"."""
    now = timezone.now()
    story = ClientStory()
    bookings = client.bookings.select_related("staff")
    story.upcoming_bookings = list(
        bookings.filter(start__gte=now).exclude(status=_CANCELLED_BOOKING).order_by("start")[:RECENT]
    )
    story.past_bookings = list(bookings.filter(start__lt=now).order_by("-start")[:RECENT])
    story.bookings_count = client.bookings.count()
    sales = client.carts.filter(status=_COMPLETED_SALE)
    totals = sales.aggregate(count=Count("pk"), spend=Sum("total"))
    story.purchases_count, story.spend = totals["count"], totals["spend"] or Decimal("0")
    story.purchases = list(sales.order_by("-completed_at")[:RECENT])
    debts = client.debts.exclude(status=_PAID_DEBT)
    story.debts = list(debts.order_by("due_date", "pk")[:RECENT])
    story.debt_total = debts.aggregate(total=Sum("remaining"))["total"] or Decimal("0")
    story.bonos = list(client.bonuses.filter(status=_ACTIVE).order_by("expires_on", "pk"))
    story.gift_cards = list(
        client.gift_cards.filter(status=_ACTIVE, current_balance__gt=0).order_by("expires_on", "pk")
    )
    story.consents = _consent_lines(client)
    story.questionnaires = list(client.questionnaires.order_by("-created_at"))
    story.health_alerts = [
        (q.title, question, answer) for q in story.questionnaires for question, answer in health_alerts(q.answers)
    ]
    story.history = list(
        AuditEntry.objects.filter(target_type=Client._meta.label_lower, target_id=str(client.pk)).order_by(
            "-created_at"
        )[:HISTORY]
    )
    return story


def _consent_lines(client: Client) -> list[ConsentLine]:
    held = {consent.kind: consent for consent in client.consents.all()}
    return [
        ConsentLine(kind, label, held.get(kind), bool(getattr(client, f"missing_{kind}", False)))
        for kind, label in ConsentType.choices
    ]


def health_alerts(answers) -> list[tuple[str, str]]:
    """The (question, answer) pairs of a questionnaire that report an allergy or a
    contraindication: the question or the answer names one, and the answer is not a "no"."""
    if not isinstance(answers, dict):
        return []
    found = []
    for question, answer in answers.items():
        text = "" if answer is None else str(answer).strip()
        if text.casefold() in NOTHING or answer is False:
            continue
        if any(word in f"{question} {text}".casefold() for word in HEALTH_ALERT_WORDS):
            found.append((str(question), "✓" if answer is True else text))
    return found
