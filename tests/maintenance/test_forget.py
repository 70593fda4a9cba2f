"""Forgetting on time (maintenance/forget.py, ``manage.py forget_clients``): the policy and which
setting wins, the refusals, the dry run that writes nothing, the erasure that keeps invoices,
ledger and audit, and the weekly review that only mails."""

import json
import threading
from datetime import timedelta
from decimal import Decimal
from importlib import import_module
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.utils import timezone

from audit.models import AuditEntry
from bookings.models import Booking, BookingStatus
from crm.erasure import ERASED_ACTION, ledger_entries
from crm.models import Client, Consent
from maintenance.forget import (
    POLICY_CODE,
    REVIEWED_ACTION,
    ForgetError,
    clients_forget,
    forget_candidates,
    forget_policy,
    forget_review,
    policy_in_force,
)
from maintenance.models import LifecycleKind, LifecycleRun, RetentionPolicy
from maintenance.schedules import BY_NAME
from maintenance.tasks import forget_review as forget_review_task
from sales.models import ArchivedCart, Cart, DebtStatus, Invoice
from tests import factories as f
from tests.helpers import admin_url
from tests.maintenance.forget_support import switch_on

pytestmark = pytest.mark.django_db

YEAR = 365
LONG_AGO = timezone.now() - timedelta(days=7 * YEAR)
SIX_YEARS_AGO = timezone.now() - timedelta(days=6 * YEAR)
RECENTLY = timezone.now() - timedelta(days=30)


def policy() -> RetentionPolicy:
    return RetentionPolicy.objects.get(code=POLICY_CODE)


@pytest.fixture
def policy_on():
    """Switched on in the admin with 5 years (created if a flush of a transactional test took it)."""
    switch_on(5 * YEAR)


def old_client(**extra) -> Client:
    return f.ClientFactory(created_at=LONG_AGO, **extra)


def client_who_bought_long_ago(name="Lidia") -> Client:
    """Six years ago: a sale with an invoice and a signed consent; nothing since."""
    client = old_client(name=name, document_type="DNI", document_number="12345678Z")
    sale = f.CompletedCartFactory(client=client, completed_at=SIX_YEARS_AGO, created_at=SIX_YEARS_AGO)
    f.InvoiceFactory(cart=sale, customer_tax_id="12345678Z")
    f.SignedConsentFactory(client=client, signed_at=SIX_YEARS_AGO)
    return client


def run(*args) -> str:
    out = StringIO()
    call_command("forget_clients", *args, stdout=out)
    return out.getvalue()


def counts() -> dict:
    return {
        "clients": Client.all_objects.count(),
        "erased": Client.all_objects.exclude(erased_at=None).count(),
        "consents": Consent.objects.count(),
        "audit": AuditEntry.objects.count(),
        "runs": LifecycleRun.objects.count(),
        "ledger": len(ledger_entries()),
    }


# --- the policy ----------------------------------------------------------------------------------


def add_policy_as_the_migration_does():
    RetentionPolicy.objects.filter(code=POLICY_CODE).delete()  # a reused test database may lack it
    import_module("maintenance.migrations.0019_forget_clients").add_forget_policy(django_apps, None)


def test_the_migration_adds_the_policy_switched_off_for_review():
    add_policy_as_the_migration_does()
    row = policy()
    assert (row.enabled, row.after_days, row.action, row.target) == (False, None, "REVIEW", "crm.Client")
    assert not forget_policy().is_on


def test_the_migration_switches_it_on_when_the_environment_gives_years(settings):
    settings.RETENTION_FORGET_YEARS = 6
    add_policy_as_the_migration_does()
    assert (policy().enabled, policy().after_days) == (True, None)
    assert (forget_policy().is_on, forget_policy().days, forget_policy().source) == (True, 6 * YEAR, "environment")


def test_the_command_refuses_while_the_policy_is_off_and_changes_nothing():
    client_who_bought_long_ago()
    before = counts()
    with pytest.raises(CommandError, match="switched off"):
        run("--noinput")
    assert counts() == before


def test_the_environment_gives_the_period_while_the_admin_leaves_the_days_empty(settings):
    settings.RETENTION_FORGET_YEARS = 6
    assert forget_policy().days == 6 * YEAR and not forget_policy().is_on  # still the admin's switch
    switch_on(None)
    assert (forget_policy().is_on, forget_policy().days, forget_policy().source) == (True, 6 * YEAR, "environment")


def test_the_admins_days_win_over_the_environment(settings):
    settings.RETENTION_FORGET_YEARS = 6
    switch_on(3 * YEAR)
    assert (forget_policy().days, forget_policy().source) == (3 * YEAR, "admin")


def test_switched_off_in_the_admin_it_is_off_whatever_the_environment(settings):
    settings.RETENTION_FORGET_YEARS = 6
    switch_on(3 * YEAR, enabled=False)
    with pytest.raises(ForgetError, match="switched off"):
        policy_in_force()


def test_switched_on_with_no_period_anywhere_it_is_refused():
    switch_on(None)
    with pytest.raises(ForgetError, match="no period"):
        policy_in_force()


def test_years_on_the_command_apply_even_with_the_policy_off():
    client = client_who_bought_long_ago()
    out = run("--dry-run", "--years", "5")
    assert f"#{client.pk}" in out and "Lidia" in out


def test_a_period_under_a_year_is_refused():
    with pytest.raises(CommandError, match="1 or more"):
        run("--dry-run", "--years", "0")


# --- the dry run ---------------------------------------------------------------------------------


def test_the_dry_run_lists_who_and_why_and_writes_nothing(policy_on):
    bought = client_who_bought_long_ago()
    quiet = old_client(name="Quieta")
    before = counts()
    out = run("--dry-run")
    assert counts() == before
    assert "2 clients with no activity since" in out
    assert f"#{bought.pk}" in out and "purchase" in out
    assert f"#{quiet.pk}" in out and "client record created (no activity)" in out
    assert "Dry run: nothing was changed." in out


def test_the_dry_run_as_json_gives_ids_dates_and_kinds(policy_on):
    bought = client_who_bought_long_ago()
    data = json.loads(run("--dry-run", "--json"))
    assert data["dry_run"] is True
    assert data["due"] == [
        {
            "client_id": bought.pk,
            "name": bought.full_name,
            "last_activity": SIX_YEARS_AGO.isoformat(),
            "kind": "purchase",
        }
    ]


def test_nothing_due_says_so_and_changes_nothing(policy_on):
    f.ClientFactory()
    before = counts()
    assert "0 clients with no activity" in run("--noinput")
    assert counts() == before


# --- the erasure ---------------------------------------------------------------------------------


def test_forgetting_erases_like_gdpr_erase_invoices_anonymised_ledger_and_audit_kept(policy_on):
    client = client_who_bought_long_ago()
    f.AuditEntryFactory(action="crm.client.updated", target_type="crm.client", target_id=str(client.pk))
    invoice = Invoice.objects.get(cart__client=client)
    out = run("--noinput")
    assert "1 client forgotten (erased)" in out
    erased = Client.all_objects.get(pk=client.pk)
    assert erased.erased_at is not None and erased.document_number is None and "Lidia" not in erased.name
    assert not Consent.objects.filter(client=client).exists()
    kept = Invoice.objects.get(pk=invoice.pk)
    assert (kept.number, kept.total, kept.hash) == (invoice.number, invoice.total, invoice.hash)
    assert (kept.customer_name, kept.customer_tax_id) == (None, None)
    assert Cart.objects.filter(client=client).count() == 1
    assert [entry.client_id for entry in ledger_entries()] == [client.pk]
    assert AuditEntry.objects.filter(action=ERASED_ACTION, target_id=str(client.pk)).count() == 1
    assert AuditEntry.objects.filter(action="crm.client.updated", target_id=str(client.pk)).exists()
    done = AuditEntry.objects.get(action="maintenance.forget.done")
    assert done.detail["forgotten"] == [client.pk] and "Lidia" not in json.dumps(done.detail)
    assert LifecycleRun.objects.get(kind=LifecycleKind.FORGET).counts == {"crm_client": {"forgotten": 1}}


def test_a_client_with_no_history_is_deleted_outright_and_the_ledger_keeps_the_id(policy_on):
    quiet = old_client()
    run("--noinput")
    assert not Client.all_objects.filter(pk=quiet.pk).exists()
    assert [entry.client_id for entry in ledger_entries()] == [quiet.pk]


def test_the_command_asks_first_and_a_no_changes_nothing(policy_on, monkeypatch):
    client_who_bought_long_ago()
    before = counts()
    monkeypatch.setattr("builtins.input", lambda question: "n")
    with pytest.raises(CommandError, match="Nothing was changed"):
        run()
    assert counts() == before


def test_an_open_debt_a_future_booking_or_a_recent_purchase_keep_clients(policy_on):
    owing, booked, recent = old_client(), old_client(), old_client()
    f.DebtFactory(client=owing, created_at=LONG_AGO, remaining=Decimal("5.00"), status=DebtStatus.PARTIAL)
    f.BookingFactory(client=booked)
    f.CompletedCartFactory(client=recent, completed_at=RECENTLY)
    forgettable = old_client()
    run("--noinput")
    assert set(Client.all_objects.values_list("pk", flat=True)) >= {owing.pk, booked.pk, recent.pk}
    assert Client.all_objects.filter(pk__in=[owing.pk, booked.pk, recent.pk], erased_at=None).count() == 3
    assert not Client.all_objects.filter(pk=forgettable.pk).exists()


def test_an_archived_old_sale_is_forgotten_and_a_recent_archived_one_is_not(policy_on):
    old, recent = old_client(name="Antigua"), old_client(name="Reciente")
    f.ArchivedCartFactory(client=old, completed_at=SIX_YEARS_AGO, created_at=SIX_YEARS_AGO)
    f.ArchivedCartFactory(client=recent, completed_at=timezone.now() - timedelta(days=3 * YEAR))
    run("--noinput")
    assert Client.all_objects.get(pk=old.pk).erased_at is not None
    assert ArchivedCart.objects.filter(client=old).count() == 1  # the archived sale stays, anonymised
    assert Client.all_objects.get(pk=recent.pk).erased_at is None


def test_a_client_who_books_between_the_listing_and_the_erasure_is_left_alone(policy_on, monkeypatch):
    returning, gone = client_who_bought_long_ago("Vuelve"), old_client(name="Ida")

    def books_meanwhile(question):
        f.BookingFactory(client=returning)  # she phoned while the operator read the list
        return "y"

    monkeypatch.setattr("builtins.input", books_meanwhile)
    out = run()
    assert f"Client #{returning.pk} left alone: no longer due (a visit or an upcoming booking)" in out
    assert Client.all_objects.get(pk=returning.pk).erased_at is None
    assert Booking.objects.get(client=returning).status == BookingStatus.PENDING
    assert not Client.all_objects.filter(pk=gone.pk).exists()
    assert not AuditEntry.objects.filter(action=ERASED_ACTION, target_id=str(returning.pk)).exists()


def test_the_service_refuses_a_listed_client_who_paid_meanwhile(policy_on):
    client = old_client()
    before = forget_policy().before()
    listed = [candidate.client_id for candidate in forget_candidates(before=before)]
    f.DebtFactory(client=client, remaining=Decimal("50.00"))  # bought on credit today
    result = clients_forget(before=before, ids=listed, actor=None, actor_label="test")
    assert result.forgotten == [] and result.refused == {client.pk: ["open_debt", "debt"]}
    assert Client.all_objects.get(pk=client.pk).erased_at is None


def test_the_actor_must_be_an_active_admin(policy_on, manager_user):
    old_client()
    with pytest.raises(CommandError, match="not an active ADMIN"):
        run("--noinput", "--actor", manager_user.email)


def test_the_admin_named_as_actor_is_recorded(policy_on, admin_user):
    old_client()
    run("--noinput", "--actor", admin_user.email)
    assert AuditEntry.objects.get(action="maintenance.forget.done").actor == admin_user
    assert AuditEntry.objects.get(action=ERASED_ACTION).actor == admin_user


def test_the_result_as_json(policy_on):
    client = old_client()
    data = json.loads(run("--noinput", "--json"))
    assert [row["client_id"] for row in data["forgotten"]] == [client.pk] and data["refused"] == []


# --- the weekly review ---------------------------------------------------------------------------


def test_the_review_job_is_declared_weekly_and_only_lists():
    job = BY_NAME["Forgetting review"]
    assert (job.task, job.day_of_week, job.hour) == ("maintenance.forget_review", "1", "7")


def test_the_review_mails_the_admins_and_erases_nobody(policy_on, admin_user):
    old_client(), old_client()
    before = Client.all_objects.count()
    forget_review_task.apply()
    assert Client.all_objects.count() == before and not Client.all_objects.exclude(erased_at=None).exists()
    assert len(mail.outbox) == 1 and "2 clients are due to be forgotten" in mail.outbox[0].subject
    assert admin_user.email in mail.outbox[0].to and "for 5 years" in mail.outbox[0].body
    assert AuditEntry.objects.get(action=REVIEWED_ACTION).detail["due"] == 2


def test_the_review_is_silent_while_the_policy_is_off_or_nobody_is_due(admin_user):
    old_client()
    assert forget_review() is None
    switch_on(10 * YEAR)
    assert forget_review() == 0
    assert mail.outbox == [] and not AuditEntry.objects.filter(action=REVIEWED_ACTION).exists()


def test_a_long_selection_is_picked_from_the_whole_list(policy_on, monkeypatch):
    monkeypatch.setattr("maintenance.forget.IDS_PER_QUERY", 1)
    first, second, unselected = old_client(), old_client(), old_client()
    result = clients_forget(before=forget_policy().before(), ids=[first.pk, second.pk], actor_label="test")
    assert sorted(candidate.client_id for candidate in result.forgotten) == [first.pk, second.pk]
    assert Client.all_objects.filter(pk=unselected.pk, erased_at=None).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "mysql", reason="row locks: MariaDB")
def test_a_booking_being_written_while_the_erasure_starts_wins_and_the_client_is_kept():
    """The race the row lock closes: a booking inserted (not yet committed) when the run lists the
    client holds the client row through its foreign key; the erasure waits for it, then sees it."""
    switch_on(5 * YEAR)
    client = old_client()
    inserted, erasing, errors = threading.Event(), threading.Event(), []

    def receptionist():
        try:
            with transaction.atomic():
                f.BookingFactory(client=client)
                inserted.set()
                erasing.wait(timeout=10)
                threading.Event().wait(1)  # the erasure is now waiting for this client's row
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=receptionist)
    thread.start()
    assert inserted.wait(timeout=10)
    before = forget_policy().before()
    erasing.set()
    result = clients_forget(before=before, ids=[client.pk], actor_label="test")
    thread.join(timeout=30)
    assert errors == []
    assert result.forgotten == [] and result.refused == {client.pk: ["visit"]}
    assert Client.all_objects.get(pk=client.pk).erased_at is None


def test_a_period_under_a_year_is_refused_in_the_admin_and_in_the_database(admin_browser):
    from django.db import IntegrityError

    policy = switch_on(None)
    data = {"name": policy.name, "after_days": "30", "purge_after_days": "", "enabled": "on", "notes": ""}
    page = admin_browser.post(admin_url(RetentionPolicy, "change", policy.pk), data)
    assert page.status_code == 200 and "a year" in page.content.decode()
    policy.refresh_from_db()
    assert policy.after_days is None
    with pytest.raises(IntegrityError), transaction.atomic():
        RetentionPolicy.objects.filter(pk=policy.pk).update(after_days=30)


def test_an_environment_period_under_a_year_is_refused(settings):
    settings.RETENTION_FORGET_YEARS = 0
    switch_on(None)
    with pytest.raises(ForgetError, match="a year or more"):
        policy_in_force()
