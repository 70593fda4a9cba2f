"""Which clients are due to be forgotten: no visit, purchase, debt or signed form for a period.

The rule (issue 19, "forgetting on time", as Phorest's auto-forget): a client is *forgettable*
when nothing of theirs has happened since ``before``. What counts as something happening:

- **a visit**: a booking that was not cancelled (a no-show counts: the client booked), by its
  start. A booking in the future is something happening, so an upcoming appointment always
  blocks forgetting;
- **a purchase**: a sale that was not cancelled, by when it was completed (an open ticket by when
  it was opened), *including* sales moved to the archive tables: an archived old sale is still a
  purchase date, so it makes a client forgettable only once it is itself older than the limit;
- **a debt**: when it was created, and each payment towards it. A debt with anything left to pay
  blocks forgetting whatever its age: money owed must not lose its debtor;
- **a signed form**: a consent signed or a questionnaire filled in. Both are done in the salon, in
  person, so they are contact as much as a visit (a *revocation* is not: a person who withdraws
  consent is asking to be left alone);
- prepaid value the salon still owes: a usable bono (sessions left, not expired) or a usable gift
  card owned by the client blocks forgetting whatever its age, like a debt in the other direction;
- a merge the client was part of that can still be undone (``MERGE_UNDO_DAYS``): erasing them
  would take the undo away.

A client with none of these is dated by when their record was created. Clients already erased are
never listed. Staff edits to the client record are *not* activity: a salon that corrects a typo
has not heard from the person.

Everything is read in one query (and one small one for the merges still undoable): the
exclusions are ``NOT EXISTS`` subqueries and the dates correlated ``MAX`` subqueries, each on
the client foreign key's index, so the list costs the same number of queries at 100 000 clients
as at ten.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import BooleanField, Exists, ExpressionWrapper, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ActivityKind(models.TextChoices):
    VISIT = "visit", _("visit")
    PURCHASE = "purchase", _("purchase")
    ARCHIVED_PURCHASE = "archived_purchase", _("purchase (archived sale)")
    DEBT = "debt", _("debt or debt payment")
    FORM = "form", _("signed consent or questionnaire")
    CREATED = "created", _("client record created (no activity)")


#: The annotations that carry the latest date of each source of activity, and its kind.
ANNOTATIONS = {
    "last_visit": ActivityKind.VISIT,
    "last_purchase": ActivityKind.PURCHASE,
    "last_archived_purchase": ActivityKind.ARCHIVED_PURCHASE,
    "last_debt": ActivityKind.DEBT,
    "last_debt_payment": ActivityKind.DEBT,
    "last_consent": ActivityKind.FORM,
    "last_questionnaire": ActivityKind.FORM,
}


def _model(label: str):
    # crm sits below sales, bookings and marketing in import order (they import crm.models): their
    # models are looked up at call time, like crm.models.clients does for consents.
    return apps.get_model(label)


def _visits():
    return _model("bookings.Booking").objects.filter(client=OuterRef("pk")).exclude(status="CANCELLED")


def _sales():
    return _model("sales.Cart").objects.filter(client=OuterRef("pk")).exclude(status="CANCELLED")


def _archived_sales():
    return _model("sales.ArchivedCart").objects.filter(client=OuterRef("pk")).exclude(status="CANCELLED")


def _debts():
    return _model("sales.Debt").objects.filter(client=OuterRef("pk"))


def _debt_payments():
    return _model("sales.DebtPayment").objects.filter(debt__client=OuterRef("pk"))


def _consents():
    return _model("crm.Consent").objects.filter(client=OuterRef("pk"), signed_at__isnull=False)


def _questionnaires():
    return _model("crm.Questionnaire").objects.filter(client=OuterRef("pk"))


def _latest(queryset, field, *, by: str = "client"):
    """The latest ``field`` of the outer client's rows in ``queryset``: a correlated MAX."""
    return Subquery(queryset.order_by().values(by).annotate(latest=Max(field)).values("latest")[:1])


def activity_blockers(*, before: datetime, now: datetime | None = None) -> dict[str, Q]:
    """Why a client is *not* forgettable, by reason: each a ``Q`` on the client. ``now`` is for
    what is usable "today" (bonos, gift cards); a future booking is after ``before`` anyway."""
    today = timezone.localdate(now or timezone.now())
    bonus = _model("marketing.ClientBonus").objects.usable(on=today).filter(client=OuterRef("pk"))
    gift_card = _model("marketing.GiftCard").objects.usable(on=today).filter(owner=OuterRef("pk"))
    return {
        "visit": Exists(_visits().filter(start__gte=before)),
        "purchase": Exists(_sales().filter(Q(completed_at__gte=before) | Q(completed_at__isnull=True,
                                                                           created_at__gte=before))),  # fmt: skip
        "archived_purchase": Exists(_archived_sales().filter(completed_at__gte=before)),
        "open_debt": Exists(_debts().exclude(status="PAID")),
        "debt": Exists(_debts().filter(created_at__gte=before)) | Exists(_debt_payments().filter(paid_at__gte=before)),
        "form": Exists(_consents().filter(signed_at__gte=before)) | Exists(_questionnaires().filter(created_at__gte=before)),
        "prepaid": Exists(bonus) | Exists(gift_card),
        "merge": Q(pk__in=_clients_in_undoable_merges(now)),
        "created": Q(created_at__gte=before),
        "erased": Q(erased_at__isnull=False),
        **{name: condition(before=before, now=now) for name, (_label, condition) in EXTRA_BLOCKERS.items()},
    }  # fmt: skip


def _clients_in_undoable_merges(now: datetime | None) -> list[int]:
    """Clients of a merge that can still be undone (``MERGE_UNDO_DAYS``): forgetting one would
    take the undo away (crm.unmerge refuses a merge whose client was erased). The merged ids are a
    JSON list, so the few merges of the window are read here: one small query, whatever the
    number of clients."""
    from crm.models import ClientMergeRecord

    since = (now or timezone.now()) - timedelta(days=settings.MERGE_UNDO_DAYS)
    merges = ClientMergeRecord.objects.filter(merged_at__gte=since, undone_at=None, forgotten_at=None)
    return sorted({pk for record in merges.only("survivor_id", "merged_ids") for pk in record.client_ids})


#: Blockers other apps add (``register_blocker``): e.g. a merge that can still be undone.
EXTRA_BLOCKERS: dict[str, tuple] = {}


def register_blocker(name: str, label, condition) -> None:
    """Keep clients matching ``condition(before=…, now=…)`` (a ``Q`` or ``Exists`` on the client)
    off the list; ``label`` says why, for people."""
    EXTRA_BLOCKERS[name] = (label, condition)


#: Reasons for :func:`activity_blockers`, as people read them (the refusal of a client who became
#: active between the listing and the erasure).
BLOCKER_LABELS = {
    "visit": _("a visit or an upcoming booking"),
    "purchase": _("a purchase"),
    "archived_purchase": _("a purchase (archived sale)"),
    "open_debt": _("a debt with money still owed"),
    "debt": _("a debt or a debt payment"),
    "form": _("a signed consent or questionnaire"),
    "prepaid": _("a usable bono or gift card"),
    "merge": _("a merge that can still be undone"),
    "created": _("the client record is newer than the limit"),
    "erased": _("already erased"),
}


def forgettable(queryset, *, before: datetime, now: datetime | None = None):
    """``queryset`` (of clients) narrowed to those with no activity since ``before``, annotated
    with the latest date of each source of activity (``last_visit``… see :data:`ANNOTATIONS`).
    The latest of them is picked in Python (:func:`last_activity`): SQL's GREATEST is NULL as
    soon as one side is, and on MariaDB it returns text rather than a date."""
    blocked = Q()
    for condition in activity_blockers(before=before, now=now).values():
        blocked |= condition
    return queryset.exclude(blocked).annotate(**last_activity_annotations())


def last_activity_annotations() -> dict:
    done_at = Coalesce("completed_at", "created_at")
    return {
        "last_visit": _latest(_visits(), "start"),
        "last_purchase": _latest(_sales(), done_at),
        "last_archived_purchase": _latest(_archived_sales(), "completed_at"),
        "last_debt": _latest(_debts(), "created_at"),
        "last_debt_payment": _latest(_debt_payments(), "paid_at", by="debt__client"),
        "last_consent": _latest(_consents(), "signed_at"),
        "last_questionnaire": _latest(_questionnaires(), "created_at"),
    }


@dataclass(frozen=True)
class LastActivity:
    """A client's latest activity: when, and what it was."""

    when: datetime
    kind: ActivityKind

    @property
    def label(self) -> str:
        return str(self.kind.label)


def last_activity(client) -> LastActivity:
    """Read off a client annotated by :func:`forgettable`: the latest dated activity, else the
    creation of the record."""
    dated = [(getattr(client, name), kind) for name, kind in ANNOTATIONS.items() if getattr(client, name, None)]
    if not dated:
        return LastActivity(client.created_at, ActivityKind.CREATED)
    when, kind = max(dated, key=lambda pair: pair[0])
    return LastActivity(when, kind)


def blocker_label(name: str) -> str:
    label = BLOCKER_LABELS.get(name) or EXTRA_BLOCKERS.get(name, (name,))[0]
    return str(label)


def blocking_reasons(client, *, before: datetime, now: datetime | None = None) -> list[str]:
    """The reasons (keys of :data:`BLOCKER_LABELS`) that keep ``client`` from being forgotten
    now; empty when it may be. One query."""
    blockers = activity_blockers(before=before, now=now)
    row = (
        type(client)
        .all_objects.filter(pk=client.pk)
        .annotate(**{f"blocked_{name}": _as_boolean(condition) for name, condition in blockers.items()})
        .values(*[f"blocked_{name}" for name in blockers])
        .first()
    )
    if row is None:
        return ["erased"]  # deleted outright by an erasure in the meantime
    return [name for name in blockers if row[f"blocked_{name}"]]


def _as_boolean(condition):
    return ExpressionWrapper(condition, output_field=BooleanField())
