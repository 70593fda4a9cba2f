"""Which clients are due to be forgotten (crm/forgetting.py): no visit, purchase, debt or signed
form since the limit; an open debt, an upcoming booking or prepaid value blocks it at any age."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import BookingStatus
from crm.forgetting import ActivityKind, blocker_label, blocking_reasons, last_activity, register_blocker
from crm.models import Client
from marketing.models import GiftCardStatus
from sales.models import CartStatus, DebtStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = timezone.now()
LIMIT = NOW - timedelta(days=5 * 365)
LONG_AGO = NOW - timedelta(days=7 * 365)
RECENTLY = NOW - timedelta(days=30)


def old_client(**extra) -> Client:
    return f.ClientFactory(created_at=LONG_AGO, **extra)


def forgettable_ids() -> set[int]:
    return set(Client.all_objects.forgettable(before=LIMIT, now=NOW).values_list("pk", flat=True))


def annotated(client: Client) -> Client:
    return Client.all_objects.forgettable(before=LIMIT, now=NOW).get(pk=client.pk)


def test_a_client_created_long_ago_with_no_activity_is_forgettable_dated_by_creation():
    client = old_client()
    assert forgettable_ids() == {client.pk}
    activity = last_activity(annotated(client))
    assert (activity.when, activity.kind) == (LONG_AGO, ActivityKind.CREATED)


def test_a_client_created_recently_is_not_forgettable():
    f.ClientFactory(created_at=RECENTLY)
    assert forgettable_ids() == set()


def test_a_deactivated_old_client_is_forgettable_and_an_erased_one_never():
    off = old_client(status="OFF")
    old_client(erased_at=RECENTLY)
    assert forgettable_ids() == {off.pk}


def test_an_old_visit_dates_the_client_and_a_recent_visit_keeps_them():
    old, recent = old_client(), old_client()
    visit = NOW - timedelta(days=6 * 365)
    f.BookingFactory(client=old, start=visit, end=visit + timedelta(hours=1), status=BookingStatus.COMPLETED)
    f.BookingFactory(client=recent, start=RECENTLY, end=RECENTLY + timedelta(hours=1), status=BookingStatus.COMPLETED)
    assert forgettable_ids() == {old.pk}
    activity = last_activity(annotated(old))
    assert (activity.when, activity.kind) == (visit, ActivityKind.VISIT)


def test_a_cancelled_recent_booking_is_not_a_visit():
    client = old_client()
    f.BookingFactory(client=client, start=RECENTLY, end=RECENTLY + timedelta(hours=1), status=BookingStatus.CANCELLED)
    assert forgettable_ids() == {client.pk}


def test_a_future_booking_blocks_forgetting():
    client = old_client()
    f.BookingFactory(client=client)  # tomorrow at ten
    assert forgettable_ids() == set()
    assert blocking_reasons(client, before=LIMIT, now=NOW) == ["visit"]


def test_a_recent_purchase_keeps_the_client_and_an_old_one_dates_them():
    old, recent = old_client(), old_client()
    sold = NOW - timedelta(days=6 * 365)
    f.CompletedCartFactory(client=old, completed_at=sold, created_at=sold)
    f.CompletedCartFactory(client=recent, completed_at=RECENTLY)
    assert forgettable_ids() == {old.pk}
    assert last_activity(annotated(old)).kind == ActivityKind.PURCHASE


def test_an_open_ticket_opened_recently_counts_and_a_cancelled_one_does_not():
    open_ticket, cancelled = old_client(), old_client()
    f.CartFactory(client=open_ticket, status=CartStatus.OPEN)
    f.CartFactory(client=cancelled, status=CartStatus.CANCELLED)
    assert forgettable_ids() == {cancelled.pk}


def test_an_archived_old_sale_dates_the_client_and_a_recent_archived_one_keeps_them():
    old, recent = old_client(), old_client()
    sold = NOW - timedelta(days=6 * 365)
    f.ArchivedCartFactory(client=old, completed_at=sold, created_at=sold)
    f.ArchivedCartFactory(client=recent, completed_at=NOW - timedelta(days=3 * 365))
    assert forgettable_ids() == {old.pk}
    activity = last_activity(annotated(old))
    assert (activity.when, activity.kind) == (sold, ActivityKind.ARCHIVED_PURCHASE)
    assert blocking_reasons(recent, before=LIMIT, now=NOW) == ["archived_purchase"]


def test_a_debt_with_money_owed_blocks_forgetting_whatever_its_age():
    client = old_client()
    f.DebtFactory(client=client, created_at=LONG_AGO, remaining=Decimal("0.01"), status=DebtStatus.PARTIAL)
    assert forgettable_ids() == set()
    assert blocking_reasons(client, before=LIMIT, now=NOW) == ["open_debt"]


def test_an_old_paid_debt_dates_the_client_and_a_recent_payment_keeps_them():
    old, recent = old_client(), old_client()
    paid = NOW - timedelta(days=6 * 365)
    debt = f.DebtFactory(client=old, created_at=LONG_AGO, remaining=Decimal("0"), status=DebtStatus.PAID)
    f.DebtPaymentFactory(debt=debt, amount=Decimal("50.00"), paid_at=paid)
    late = f.DebtFactory(client=recent, created_at=LONG_AGO, remaining=Decimal("0"), status=DebtStatus.PAID)
    f.DebtPaymentFactory(debt=late, amount=Decimal("50.00"), paid_at=RECENTLY)
    assert forgettable_ids() == {old.pk}
    activity = last_activity(annotated(old))
    assert (activity.when, activity.kind) == (paid, ActivityKind.DEBT)


def test_a_recently_signed_consent_or_questionnaire_keeps_the_client():
    signed, asked, old_form = old_client(), old_client(), old_client()
    f.SignedConsentFactory(client=signed, signed_at=RECENTLY)
    f.QuestionnaireFactory(client=asked)
    f.SignedConsentFactory(client=old_form, signed_at=NOW - timedelta(days=6 * 365))
    assert forgettable_ids() == {old_form.pk}
    assert last_activity(annotated(old_form)).kind == ActivityKind.FORM


def test_prepaid_value_the_salon_owes_blocks_forgetting():
    bono, card, spent = old_client(), old_client(), old_client()
    f.ClientBonusFactory(client=bono, created_at=LONG_AGO)
    f.GiftCardFactory(owner=card, created_at=LONG_AGO)
    f.GiftCardFactory(owner=spent, created_at=LONG_AGO, status=GiftCardStatus.EXPIRED)
    assert forgettable_ids() == {spent.pk}
    assert blocking_reasons(bono, before=LIMIT, now=NOW) == ["prepaid"]


def test_the_latest_of_several_kinds_is_reported():
    client = old_client()
    visit, sale = NOW - timedelta(days=8 * 365), NOW - timedelta(days=6 * 365)
    f.BookingFactory(client=client, start=visit, end=visit + timedelta(hours=1), status=BookingStatus.COMPLETED)
    f.ArchivedCartFactory(client=client, completed_at=sale, created_at=sale)
    assert last_activity(annotated(client)).when == sale


def test_the_list_is_two_queries_whatever_the_number_of_clients():
    for _ in range(3):
        client = old_client()
        f.ArchivedCartFactory(client=client, completed_at=LONG_AGO, created_at=LONG_AGO)
    with CaptureQueriesContext(connection) as few:
        small = [last_activity(c) for c in Client.all_objects.forgettable(before=LIMIT, now=NOW)]
    for _ in range(12):
        client = old_client()
        visit = NOW - timedelta(days=6 * 365)
        f.BookingFactory(client=client, start=visit, end=visit + timedelta(hours=1), status=BookingStatus.COMPLETED)
        f.DebtFactory(client=client, created_at=LONG_AGO, remaining=Decimal("0"), status=DebtStatus.PAID)
    with CaptureQueriesContext(connection) as many:
        large = [last_activity(c) for c in Client.all_objects.forgettable(before=LIMIT, now=NOW)]
    assert (len(small), len(large)) == (3, 15)
    # the list, and the few merges that can still be undone
    assert len(few.captured_queries) == len(many.captured_queries) == 2


def test_another_app_can_keep_clients_off_the_list(monkeypatch):
    monkeypatch.setattr("crm.forgetting.EXTRA_BLOCKERS", {})
    kept, other = old_client(notes="legal hold"), old_client()
    register_blocker("hold", "on legal hold", lambda *, before, now: Q(notes="legal hold"))
    assert forgettable_ids() == {other.pk}
    assert blocking_reasons(kept, before=LIMIT, now=NOW) == ["hold"]
    assert blocker_label("hold") == "on legal hold"


def test_a_client_of_a_merge_that_can_still_be_undone_is_kept_until_the_window_closes(settings):
    from crm.services import client_merge

    settings.MERGE_UNDO_DAYS = 30
    survivor, duplicate = old_client(name="Kept"), old_client(name="Merged")
    client_merge(survivor=survivor, duplicates=[duplicate], actor=None)
    assert forgettable_ids() == set()
    assert blocking_reasons(duplicate, before=LIMIT, now=NOW) == ["merge"]
    later = NOW + timedelta(days=31)
    ids = set(Client.all_objects.forgettable(before=LIMIT, now=later).values_list("pk", flat=True))
    assert ids == {survivor.pk, duplicate.pk}
