"""GDPR erasure: personal data deleted, fiscal records kept anonymised, nothing of the person
left in any table, history, audit label or export, and the erasure re-applied after a restore."""

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEntry
from backups.services import backup_create, backup_restore
from beils.lib.models import Status
from bookings.models import Booking, BookingStatus
from crm.erasure import (
    ERASED_ACTION,
    REPLAYED_ACTION,
    client_erase,
    client_erase_preview,
    erasure_replay,
    ledger_append,
    ledger_entries,
    ledger_path,
)
from crm.gdpr import client_data_collect
from crm.models import Client, Consent, Questionnaire, Revoke
from crm.services import client_merge
from maintenance.archive import archive_run
from sales.chain import invoice_chain_verify
from sales.models import ArchivedCart, Cart, Invoice
from sales.services import LineRequest, PaymentRequest, cart_checkout
from tests import factories as f
from tests.crm.support import client_with_everything, merged_duplicate
from tests.helpers import admin_url, api_as
from transfer.models import Job, JobKind, JobState
from transfer.resources.base import BeilsResource

TEXT_TYPES = {"CharField", "TextField", "JSONField", "EmailField", "URLField", "SlugField", "FileField"}


def _text_columns() -> list[tuple[str, str]]:
    """``(table, column)`` for every text column of every table in the database."""
    found = []
    introspection = connection.introspection
    with connection.cursor() as cursor:
        for table in introspection.table_names(cursor):
            for column in introspection.get_table_description(cursor, table):
                if introspection.get_field_type(column.type_code, column) in TEXT_TYPES:
                    found.append((table, column.name))
    return found


def _where_found(values: list[str]) -> dict[str, list[str]]:
    """Every ``table.column`` holding any of ``values``, and which."""
    quote = connection.ops.quote_name
    found = {}
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            hits = []
            for value in values:
                cursor.execute(f"SELECT COUNT(*) FROM {quote(table)} WHERE {quote(column)} LIKE %s", [f"%{value}%"])  # noqa: S608
                if cursor.fetchone()[0]:
                    hits.append(value)
            if hits:
                found[f"{table}.{column}"] = hits
    return found


def _personal_values(client: Client) -> list[str]:
    """What identifies the person (shared values such as the city are checked on the row)."""
    return [client.name, client.surname, client.email, client.phone, client.document_number, client.address]


def _erase(client, actor=None):
    return client_erase(client=client, actor=actor)


@pytest.fixture
def xiomara(admin_user):
    xiomara = client_with_everything("Xiomara", "Quintanilla")
    archive_run(dry_run=False)
    LogEntry.objects.create(
        user=admin_user, content_type=ContentType.objects.get_for_model(Client), object_id=str(xiomara.pk),
        object_repr=str(xiomara), action_flag=CHANGE, change_message='[{"changed": {"fields": ["City"]}}]',
    )  # fmt: skip
    return xiomara


@pytest.fixture
def bystander(db):
    """Another client, who must come through every erasure untouched."""
    return client_with_everything("Zoraida", "Ortega")


# --- Completeness: the search --------------------------------------------------------------


def test_after_erasure_no_personal_value_of_the_client_remains_in_any_text_column(xiomara, bystander):
    values = _personal_values(xiomara)
    before = _where_found(values)
    # The search finds them before: in the client, its history, invoices, audit and admin logs.
    assert {"crm_client.name", "crm_historicalclient.email", "sales_invoice.customer_name"} <= set(before)
    assert "django_admin_log.object_repr" in before and "maintenance_auditentry.target_label" in before

    _erase(xiomara)

    assert _where_found(values + ["Xiomara-latex", "XIOM1234Z"]) == {}
    # The bystander's data is all still there: the search does find what exists.
    assert set(_where_found(_personal_values(bystander))) >= {"crm_client.name", "sales_invoice.customer_name"}


def test_after_erasure_no_export_of_any_model_holds_the_clients_values(xiomara, bystander):
    _erase(xiomara)
    values = _personal_values(xiomara)
    resources = _all_resources(BeilsResource)
    assert len(resources) >= 20
    for resource_class in resources:
        text = resource_class().export().csv
        assert not [value for value in values if value in text], resource_class.__name__
    assert bystander.email in "".join(r().export().csv for r in resources)
    document = json.dumps(client_data_collect(client=Client.all_objects.get(pk=xiomara.pk)), default=str)
    assert not [value for value in values if value in document]


def _all_resources(base) -> list[type]:
    found = []
    for subclass in base.__subclasses__():
        if getattr(subclass._meta, "model", None) is not None:
            found.append(subclass)
        found += _all_resources(subclass)
    return found


def test_the_client_row_stays_anonymised_and_inactive_when_it_has_history(xiomara):
    plan = _erase(xiomara)
    client = Client.all_objects.get(pk=xiomara.pk)
    assert plan.client_deleted is False
    assert client.name == f"Erased client {client.pk}" and client.status == Status.OFF
    assert client.erased_at is not None and client.deactivated_at is not None
    for name in ("surname", "email", "phone", "address", "city", "postal_code", "birth_date", "document_number"):
        assert getattr(client, name) is None, name
    assert not client.history.exists()


def test_personal_records_are_deleted_and_business_records_kept(xiomara, bystander):
    sales, archived, bookings = Cart.objects.count(), ArchivedCart.objects.count(), Booking.objects.count()
    _erase(xiomara)
    for model in (Consent, Revoke, Questionnaire):
        assert not model.objects.filter(client_id=xiomara.pk).exists(), model
        assert model.objects.filter(client=bystander).exists(), model
    assert (Cart.objects.count(), ArchivedCart.objects.count(), Booking.objects.count()) == (sales, archived, bookings)
    assert set(Cart.objects.filter(client_id=xiomara.pk).values_list("notes", flat=True)) == {None}
    assert set(Booking.objects.filter(client_id=xiomara.pk).values_list("notes", flat=True)) == {None}


def test_a_client_without_sales_bookings_or_debts_is_deleted_outright(db):
    client = f.ClientFactory(name="Brief")
    f.SignedConsentFactory(client=client)
    plan = _erase(client)
    assert plan.client_deleted is True and plan.deleted == {"crm.Client": 1, "crm.Consent": 1}
    assert not Client.all_objects.filter(pk=client.pk).exists()
    assert _where_found(["Brief", client.email]) == {}


def test_the_records_merged_into_a_client_go_with_them_and_an_undone_merge_keeps_its_client(db, admin_user):
    from crm.models import ClientMergeRecord
    from crm.unmerge import client_merge_undo

    kept = f.ClientFactory(name="Íñigo", email="inigo@example.com")
    older, oldest, separate = (f.ClientFactory(name="Íñigo", email=f"inigo.{n}@example.com") for n in (1, 2, 3))
    client_merge(survivor=older, duplicates=[oldest], actor=admin_user)  # a chain: oldest → older → kept
    client_merge(survivor=kept, duplicates=[older], actor=admin_user)
    client_merge(survivor=kept, duplicates=[separate], actor=admin_user)
    client_merge_undo(merge=ClientMergeRecord.objects.get(merged_ids=[separate.pk]), actor=admin_user)

    assert client_erase_preview(client=kept).merged_clients == [older.pk, oldest.pk]
    plan = client_erase(client=kept, actor=admin_user)

    assert plan.merged_clients == [older.pk, oldest.pk]
    assert not Client.all_objects.filter(pk__in=[older.pk, oldest.pk]).exists()  # no history of their own
    assert Client.objects.get(pk=separate.pk).email == "inigo.3@example.com"  # unmerged: another record
    assert [entry.client_id for entry in ledger_entries()] == [kept.pk, older.pk, oldest.pk]
    standing = ClientMergeRecord.objects.filter(undone_at=None)
    assert standing.count() == 2
    assert all(record.personal == {} and record.forgotten_at for record in standing)  # ids only now


def test_uploaded_consent_documents_are_removed_from_storage(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    consent = f.SignedConsentFactory()
    consent.document.save("signed-form.pdf", ContentFile(b"%PDF-1.4 signed"), save=True)
    name = consent.document.name
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        plan = _erase(consent.client)
    assert plan.files == [name] and not default_storage.exists(name)


def test_files_of_finished_client_exports_are_removed_and_a_pending_import_is_left(
    xiomara, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path

    def job(state, **files):
        names = {key: default_storage.save(f"jobs/{key}.csv", ContentFile(str(xiomara).encode())) for key in files}
        return Job.objects.create(
            kind=JobKind.EXPORT, state=state, model_label="crm.Client", resource="transfer.resources.crm.ClientResource",
            file_format="CSV", **names,
        )  # fmt: skip

    export, pending = job(JobState.DONE, output_name=True), job(JobState.VALIDATED, input_name=True)
    catalogue = Job.objects.create(kind=JobKind.EXPORT, state=JobState.DONE, model_label="catalog.Product",
                                   resource="x", file_format="CSV", output_name="jobs/products.csv")  # fmt: skip
    assert client_erase_preview(client=xiomara).job_files == 1
    with django_capture_on_commit_callbacks(execute=True):
        _erase(xiomara)
    export.refresh_from_db()
    assert export.output_name == "" and not default_storage.exists("jobs/output_name.csv")
    assert Job.objects.get(pk=pending.pk).input_name and default_storage.exists(pending.input_name)
    assert Job.objects.get(pk=catalogue.pk).output_name == "jobs/products.csv"


def test_upcoming_bookings_are_cancelled_and_past_ones_kept_as_they_were(db):
    client = f.ClientFactory()
    past = f.BookingFactory(client=client, status=BookingStatus.COMPLETED)
    soon = timezone.now() + timedelta(days=3)
    upcoming = f.BookingFactory(client=client, start=soon, end=soon + timedelta(hours=1))
    assert client_erase_preview(client=client).cancelled_bookings == 1
    _erase(client)
    assert Booking.objects.get(pk=upcoming.pk).status == BookingStatus.CANCELLED
    assert Booking.objects.get(pk=past.pk).status == BookingStatus.COMPLETED


# --- Invoices survive, anonymised ----------------------------------------------------------


def test_invoices_survive_erasure_anonymised_with_their_numbers_amounts_and_chain(db):
    client = f.ClientFactory(name="Yolanda", surname="Ferrer", document_type="DNI", document_number="12345678Z")
    service = f.ServiceFactory(price=Decimal("48.40"))
    result = cart_checkout(
        lines=[LineRequest(service=service)], payments=[PaymentRequest(method="CASH", amount=None)], client=client
    )
    invoice = result.invoice
    assert (invoice.customer_name, invoice.customer_tax_id) == ("Yolanda Ferrer", "12345678Z")
    assert invoice_chain_verify().ok

    _erase(client)

    kept = Invoice.objects.get(pk=invoice.pk)
    assert (kept.customer_name, kept.customer_tax_id) == (None, None)
    assert (kept.number, kept.total, kept.hash, kept.cart_id) == (
        invoice.number,
        invoice.total,
        invoice.hash,
        result.cart.pk,
    )
    assert invoice_chain_verify().ok
    out = io.StringIO()
    call_command("verifyinvoices", stdout=out)
    assert "Yolanda" not in out.getvalue()


# --- Audit and preview ----------------------------------------------------------------------


def test_the_preview_changes_nothing_and_names_what_would_go(xiomara):
    before = client_data_collect(client=xiomara)["counts"]
    plan = client_erase_preview(client=xiomara)
    assert plan.deleted == {"crm.Consent": 1, "crm.Revoke": 1, "crm.Questionnaire": 1}
    assert plan.anonymised["sales.Invoice"] == 2 and plan.anonymised["crm.Client"] == 1
    assert plan.scrubbed["crm.HistoricalClient"] == 3  # created, changed, and filled by the merge
    assert plan.merged_clients == [merged_duplicate(xiomara)]  # her older record, merged in
    assert client_data_collect(client=xiomara)["counts"] == before
    assert not ledger_entries() and not AuditEntry.objects.filter(action=ERASED_ACTION).exists()


def test_the_erasure_is_audited_with_ids_and_counts_and_earlier_entries_lose_the_name(xiomara, admin_user):
    earlier = AuditEntry.objects.filter(target_type="crm.client", target_id=str(xiomara.pk))
    assert earlier.filter(target_label__contains="Xiomara").exists()
    duplicate = merged_duplicate(xiomara)
    client_erase(client=xiomara, actor=admin_user, ip_address="198.51.100.7")
    entry = AuditEntry.objects.get(action=ERASED_ACTION, target_id=str(xiomara.pk))
    assert entry.detail["merged_clients_erased"] == [duplicate]
    # The record merged into hers is erased with her, and audited on its own.
    assert AuditEntry.objects.get(action=ERASED_ACTION, target_id=str(duplicate)).actor == admin_user
    assert (entry.actor, entry.target_id, entry.target_label, entry.ip_address) == (
        admin_user, str(xiomara.pk), f"Erased client {xiomara.pk}", "198.51.100.7",
    )  # fmt: skip
    assert entry.detail["deleted"]["crm.Consent"] == 1
    assert not [value for value in _personal_values(xiomara) if value in json.dumps(entry.detail)]
    assert not earlier.filter(target_label__contains="Xiomara").exists()
    actions = {e.action for e in earlier}  # who did what, and when, stays
    assert ERASED_ACTION in actions and any(a.startswith("maintenance.test.action") for a in actions)


def test_the_ledger_holds_ids_and_times_only(xiomara):
    _erase(xiomara)
    text = ledger_path().read_text()
    assert [entry.client_id for entry in ledger_entries()] == [xiomara.pk, merged_duplicate(xiomara)]
    assert set(json.loads(text.splitlines()[0])) == {"v", "client_id", "client_created_at", "erased_at"}
    assert not [value for value in _personal_values(xiomara) if value in text]


# --- The ledger replay ----------------------------------------------------------------------


@pytest.fixture
def xiomara_backed_up(transactional_db):
    """Xiomara, a backup holding her, then her erasure: what a restore of that backup undoes."""
    xiomara = client_with_everything("Xiomara", "Quintanilla")
    backup = backup_create()
    client_erase(client=xiomara, actor=None)
    return xiomara, backup


def test_a_restore_of_a_backup_older_than_an_erasure_erases_the_client_again(xiomara_backed_up):
    xiomara, backup = xiomara_backed_up
    backup_restore(backup, safety_backup=False)
    assert _where_found(_personal_values(xiomara)) == {}
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is not None
    replay = AuditEntry.objects.get(action=REPLAYED_ACTION)
    assert sorted(replay.detail["brought_back_by_restore"]) == [xiomara.pk, merged_duplicate(xiomara)]


def test_a_selective_restore_of_the_sales_tables_is_anonymised_again(xiomara_backed_up):
    xiomara, backup = xiomara_backed_up
    backup_restore(backup, tables=["sales_invoice", "sales_cart"], safety_backup=False)
    assert not Invoice.objects.filter(customer_name__contains="Xiomara").exists()
    assert not Cart.objects.filter(client_id=xiomara.pk).exclude(notes=None).exists()


def test_the_replay_command_erases_again_and_a_dry_run_only_tells(xiomara, bystander):
    ledger_append(client_id=xiomara.pk, client_created_at=xiomara.created_at)  # a restore brought her back
    out = io.StringIO()
    call_command("gdpr_replay", "--dry-run", "--json", stdout=out)
    assert json.loads(out.getvalue())["brought_back_by_restore"] == [xiomara.pk]
    assert Client.all_objects.get(pk=xiomara.pk).email == xiomara.email
    call_command("gdpr_replay", stdout=io.StringIO())
    assert Client.all_objects.get(pk=xiomara.pk).email is None
    assert Client.all_objects.get(pk=bystander.pk).email == bystander.email
    assert erasure_replay().returned == []  # a second replay finds nothing come back


def test_a_ledger_entry_never_erases_another_client_who_got_the_same_id(db):
    client = f.ClientFactory()
    ledger_append(client_id=client.pk, client_created_at=client.created_at - timedelta(days=30))
    result = erasure_replay()
    assert result.reused_ids == [client.pk]
    assert Client.all_objects.get(pk=client.pk).erased_at is None


def test_a_ledger_line_that_is_not_an_erasure_record_is_an_error_not_a_silent_skip(db):
    ledger_path().parent.mkdir(parents=True, exist_ok=True)
    ledger_path().write_text('{"client_id": "x"}\n')
    with pytest.raises(Exception, match="line 1"):
        erasure_replay()


def test_an_erasure_made_on_one_machine_is_replayed_on_another(xiomara, settings, tmp_path):
    """Each machine has its own ledger file; the shared storage (one bucket for every machine)
    holds one object per erasure, so the ops host that restores knows of a web node's erasure."""
    settings.ERASURE_LEDGER_PATH = tmp_path / "web-node" / "erasure-ledger.jsonl"
    ledger_append(client_id=xiomara.pk, client_created_at=xiomara.created_at)

    settings.ERASURE_LEDGER_PATH = tmp_path / "ops-host" / "erasure-ledger.jsonl"
    assert not ledger_path().exists()
    assert [(e.client_id, e.client_created_at) for e in ledger_entries()] == [(xiomara.pk, xiomara.created_at)]
    assert erasure_replay().returned == [xiomara.pk]
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is not None


def test_an_object_in_the_shared_ledger_that_is_not_an_erasure_record_is_an_error(db):
    default_storage.save("erasure-ledger/not-a-record.json", ContentFile(b"{}"))
    with pytest.raises(Exception, match="not an erasure record"):
        erasure_replay()


# --- Who may erase: API, admin, command ----------------------------------------------------


def test_admins_erase_through_the_api_after_confirming(xiomara, admin_user):
    api = api_as(admin_user)
    url = f"/api/clients/{xiomara.pk}/erase"
    preview = api.post(url, {"dry_run": True}, format="json")
    assert preview.status_code == 200 and preview.json()["erased"] is False
    unconfirmed = api.post(url, {}, format="json")
    assert unconfirmed.status_code == 400 and "confirm" in unconfirmed.json()
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is None
    done = api.post(url, {"confirm": True}, format="json")
    assert done.status_code == 200 and done.json()["deleted"]["crm.Questionnaire"] == 1
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is not None


@pytest.mark.parametrize("person", ["manager_user", "staff_user"])
def test_managers_and_staff_may_not_erase_through_the_api(xiomara, person, request):
    response = api_as(request.getfixturevalue(person)).post(
        f"/api/clients/{xiomara.pk}/erase", {"confirm": True}, format="json"
    )
    assert response.status_code == 403
    assert APIClient().post(f"/api/clients/{xiomara.pk}/erase", {"confirm": True}, format="json").status_code == 401
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is None and not ledger_entries()


def _erase_action(browser, client, **extra):
    data = {"action": "erase_personal_data", "_selected_action": [client.pk], **extra}
    return browser.post(admin_url(Client, "changelist"), data)


def test_admins_see_a_preview_in_the_admin_then_erase(xiomara, admin_browser):
    page = _erase_action(admin_browser, xiomara)
    assert page.status_code == 200 and b"Erase personal data" in page.content
    assert b"invoices" in page.content and Client.all_objects.get(pk=xiomara.pk).erased_at is None
    assert f"older client record merged into this one (the same person): #{merged_duplicate(xiomara)}" in (
        page.content.decode()
    )
    done = _erase_action(admin_browser, xiomara, confirm="yes")
    assert done.status_code == 302
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is not None


def test_managers_do_not_see_the_erase_action_and_cannot_run_it(xiomara, manager_browser):
    page = manager_browser.get(admin_url(Client, "changelist"))
    assert "erase_personal_data" not in dict(page.context["action_form"].fields["action"].choices)
    _erase_action(manager_browser, xiomara, confirm="yes")
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is None


def test_the_command_asks_first_and_a_no_changes_nothing(xiomara, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("gdpr_erase", xiomara.email, stdout=io.StringIO())
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is None


def test_the_command_dry_run_shows_the_plan_and_noinput_erases(xiomara):
    out = io.StringIO()
    call_command("gdpr_erase", str(xiomara.pk), "--dry-run", "--json", stdout=out)
    assert json.loads(out.getvalue())["erased"] is False
    assert json.loads(out.getvalue())["merged_clients_erased"] == [merged_duplicate(xiomara)]
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is None
    out = io.StringIO()
    call_command("gdpr_erase", str(xiomara.pk), "--noinput", stdout=out)
    assert "Erased client" in out.getvalue() and "ledger" in out.getvalue()
    assert f"merged into this one (the same person), erased as well: #{merged_duplicate(xiomara)}" in out.getvalue()
    assert AuditEntry.objects.get(action=ERASED_ACTION, target_id=str(xiomara.pk)).actor_label == "manage.py gdpr_erase"


def test_the_command_refuses_a_named_actor_who_is_not_an_admin(xiomara, manager_user):
    with pytest.raises(CommandError, match="ADMIN"):
        call_command("gdpr_erase", str(xiomara.pk), "--noinput", "--actor", manager_user.email)
    assert Client.all_objects.get(pk=xiomara.pk).erased_at is None
