"""GDPR subject access: everything held about a client, from the registry of personal data,
through the service, the API, the admin action and ``manage.py gdpr_export``."""

import csv
import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit.models import AuditEntry
from crm import checks, personal_data
from crm.gdpr import EXPORTED_ACTION, client_data_collect, client_data_export, client_data_zip
from crm.models import Client
from crm.personal_data import NOT_PERSONAL, REGISTRY, Holder, Level, project_models, unregistered
from crm.services import client_merge
from maintenance.archive import archive_run
from sales.models import ArchivedCart
from tests import factories as f
from tests.crm.support import client_with_everything, merged_duplicate
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def lucia():
    lucia = client_with_everything("Lucia")
    archive_run(dry_run=False)
    assert ArchivedCart.objects.filter(client=lucia).count() == 1
    return lucia


@pytest.fixture
def zoraida(lucia):
    zoraida = client_with_everything("Zoraida")
    archive_run(dry_run=False)
    return zoraida


# --- Completeness ---------------------------------------------------------------------------


def test_every_section_of_the_export_holds_the_clients_rows(lucia):
    document = client_data_export(client=lucia, actor=None)
    empty = [name for name, count in document["counts"].items() if not count]
    assert empty == []
    assert document["sections"]["profile"]["rows"][0]["email"] == lucia.email
    assert document["sections"]["questionnaires"]["rows"][0]["answers"] == {"allergies": "Lucia-latex"}
    assert len(document["sections"]["invoices"]["rows"]) == 2  # the live sale's and the archived one's
    # Her older record, merged into this one, is hers too: its profile, its versions, the merge.
    older = merged_duplicate(lucia)
    assert document["merged_client_ids"] == [older]
    profiles = document["sections"]["profile"]["rows"]
    assert [(p["id"], p["email"], p["status"]) for p in profiles] == [
        (lucia.pk, lucia.email, "ON"), (older, "lucia.antiguo@example.com", "OFF"),
    ]  # fmt: skip
    history = document["sections"]["profile_history"]["rows"]
    assert sorted(v["id"] for v in history) == [lucia.pk] * 3 + [older] * 2  # created, changed, merged
    (merge,) = document["sections"]["merges"]["rows"]
    assert merge["merged_ids"] == [older]
    actions = {row["action"] for row in document["sections"]["audit_entries"]["rows"]}
    assert "crm.consent.revoked" in actions  # an entry about one of her consents
    assert any(action.startswith("maintenance.test.action") for action in actions)  # one about her


def test_the_email_a_merged_record_gave_up_is_in_the_export_while_the_merge_can_be_undone():
    kept = f.ClientFactory(name="Begoña", email=None)
    older = f.ClientFactory(name="Begoña", email="bego.antigua@example.com")
    client_merge(survivor=kept, duplicates=[older], actor=None)
    older.refresh_from_db()
    assert older.email is None  # given up to the record kept, which had none

    for person in (kept, older):
        (merge,) = client_data_export(client=person, actor=None)["sections"]["merges"]["rows"]
        assert merge["personal"]["emails"] == {str(older.pk): "bego.antigua@example.com"}, person


def test_the_document_has_a_schema_version_a_time_and_counts_and_is_plain_json(lucia):
    document = client_data_export(client=lucia, actor=None)
    assert (document["schema"], document["schema_version"], document["client_id"]) == (
        "beils.gdpr-export",
        1,
        lucia.pk,
    )
    assert abs(timezone.now() - timezone.datetime.fromisoformat(document["generated_at"])) < timedelta(minutes=1)
    assert document["counts"] == {name: len(s["rows"]) for name, s in document["sections"].items()}
    assert json.loads(json.dumps(document)) == document


def test_every_model_the_registry_links_to_a_client_appears_in_the_export(lucia):
    document = client_data_collect(client=lucia)
    for holder in REGISTRY:
        section = document["sections"][holder.section]
        assert section["model"] == holder.get_model()._meta.label_lower
        assert section["rows"], f"{holder.model} has no row in the export"


def test_every_relation_of_a_client_is_in_the_registry():
    registered = {holder.get_model() for holder in REGISTRY}
    related = {rel.related_model for rel in Client._meta.related_objects}
    assert related - registered == set()
    assert unregistered() == []


def test_another_clients_data_never_appears(lucia, zoraida):
    text = json.dumps(client_data_export(client=lucia, actor=None))
    for value in ("Zoraida", zoraida.email, zoraida.phone, zoraida.document_number, "zoraida.antiguo@example.com"):
        assert value not in text
    document = client_data_collect(client=lucia)
    for section in document["sections"].values():
        for row in section["rows"]:
            for column in ("client_id", "owner_id"):
                assert row.get(column, lucia.pk) == lucia.pk


def test_staff_personal_data_is_left_out_of_the_audit_section(lucia, manager_user):
    client_data_export(client=lucia, actor=manager_user, ip_address="198.51.100.4")
    rows = client_data_collect(client=lucia)["sections"]["audit_entries"]["rows"]
    assert rows and all({"actor_id", "actor_label", "ip_address"}.isdisjoint(row) for row in rows)


# --- The ZIP --------------------------------------------------------------------------------


def _body(response) -> bytes:
    """A streamed response's bytes (reading them ends the export, and audits it)."""
    assert response.streaming
    return b"".join(response.streaming_content)


def _unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_zip_holds_the_json_one_csv_per_section_and_a_manifest_whose_checksums_match(lucia):
    files = _unzip(client_data_zip(client=lucia, actor=None))
    manifest = json.loads(files.pop("manifest.json"))
    assert set(manifest["files"]) == set(files)
    for name, data in files.items():
        assert manifest["files"][name] == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert {f"csv/{holder.section}.csv" for holder in REGISTRY} | {f"client-{lucia.pk}.json"} == set(files)
    document = json.loads(files[f"client-{lucia.pk}.json"])
    consents = list(csv.DictReader(io.StringIO(files["csv/consents.csv"].decode("utf-8-sig"))))
    assert len(consents) == document["counts"]["consents"] == 1


def test_csv_cells_a_spreadsheet_would_run_are_escaped(lucia):
    lucia.notes = '=HYPERLINK("http://evil.example")'
    lucia.save()
    files = _unzip(client_data_zip(client=lucia, actor=None))
    profile = next(csv.DictReader(io.StringIO(files["csv/profile.csv"].decode("utf-8-sig"))))
    assert profile["notes"] == "'" + lucia.notes
    assert json.loads(files[f"client-{lucia.pk}.json"])["sections"]["profile"]["rows"][0]["notes"] == lucia.notes


# --- The audit ------------------------------------------------------------------------------


@pytest.mark.parametrize("export", [client_data_export, client_data_zip])
def test_an_export_is_audited_with_ids_and_counts_but_no_personal_value(lucia, manager_user, export):
    export(client=lucia, actor=manager_user, ip_address="198.51.100.4")
    entry = AuditEntry.objects.get(action=EXPORTED_ACTION)
    assert (entry.actor, entry.target_type, entry.target_id, entry.ip_address) == (
        manager_user,
        "crm.client",
        str(lucia.pk),
        "198.51.100.4",
    )
    assert entry.detail["client_id"] == lucia.pk and entry.detail["counts"]["sales"] == 1
    detail = json.dumps(entry.detail)
    for value in ("Lucia", "Vidal", lucia.email, lucia.phone, lucia.document_number, "latex", "Girona"):
        assert value not in detail


# --- The API --------------------------------------------------------------------------------


@pytest.mark.parametrize("person", ["admin_user", "manager_user"])
def test_managers_and_admins_get_the_export_from_the_api(lucia, person, request):
    response = api_as(request.getfixturevalue(person)).get(f"/api/clients/{lucia.pk}/gdpr-export")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert json.loads(_body(response))["counts"]["archived_sales"] == 1
    assert AuditEntry.objects.filter(action=EXPORTED_ACTION, target_id=str(lucia.pk)).count() == 1


def test_the_api_gives_the_zip_when_asked(lucia, manager_user):
    response = api_as(manager_user).get(f"/api/clients/{lucia.pk}/gdpr-export", {"format": "zip"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f"client-{lucia.pk}" in response["Content-Disposition"]
    assert "manifest.json" in _unzip(_body(response))


def test_staff_and_strangers_are_refused_by_the_api_and_nothing_is_audited(lucia, staff_user):
    url = f"/api/clients/{lucia.pk}/gdpr-export"
    assert api_as(staff_user).get(url).status_code == 403
    assert api_as(staff_user).get(url, {"format": "zip"}).status_code == 403
    assert api_as(staff_user).get("/api/clients").status_code == 200  # staff still list clients
    from rest_framework.test import APIClient

    assert APIClient().get(url).status_code == 401
    assert not AuditEntry.objects.filter(action=EXPORTED_ACTION).exists()


def test_the_api_answers_404_for_an_unknown_client(manager_user):
    assert api_as(manager_user).get("/api/clients/987654/gdpr-export").status_code == 404


# --- The admin action -----------------------------------------------------------------------


def _export_action(browser, clients):
    data = {"action": "export_personal_data", "_selected_action": [c.pk for c in clients]}
    return browser.post(admin_url(Client, "changelist"), data)


@pytest.mark.parametrize("browser", ["admin_browser", "manager_browser"])
def test_managers_and_admins_download_the_zip_from_the_client_list(lucia, browser, request):
    response = _export_action(request.getfixturevalue(browser), [lucia])
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f"client-{lucia.pk}.json" in _unzip(_body(response))
    assert AuditEntry.objects.filter(action=EXPORTED_ACTION, target_id=str(lucia.pk)).exists()


def test_the_admin_action_exports_one_client_at_a_time(manager_browser):
    one, other = f.ClientFactory(), f.ClientFactory()
    response = _export_action(manager_browser, [one, other])
    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action=EXPORTED_ACTION).exists()


def test_staff_do_not_see_the_export_action_and_cannot_run_it(staff_browser):
    client = f.ClientFactory()
    page = staff_browser.get(admin_url(Client, "changelist"))
    assert "export_personal_data" not in dict(page.context["action_form"].fields["action"].choices)
    response = _export_action(staff_browser, [client])
    assert response.get("Content-Type") != "application/zip"
    assert not AuditEntry.objects.filter(action=EXPORTED_ACTION).exists()


# --- The command ----------------------------------------------------------------------------


def test_the_command_prints_the_json_for_an_id_or_an_email(lucia):
    for key in (str(lucia.pk), lucia.email.upper()):
        out = io.StringIO()
        call_command("gdpr_export", key, stdout=out)
        assert json.loads(out.getvalue())["client_id"] == lucia.pk
    entries = AuditEntry.objects.filter(action=EXPORTED_ACTION)
    assert entries.count() == 2 and entries.first().actor_label == "manage.py gdpr_export"


def test_the_command_writes_a_zip_to_a_file(lucia, tmp_path):
    target = tmp_path / "lucia.zip"
    call_command("gdpr_export", str(lucia.pk), "--zip", "-o", str(target), stderr=io.StringIO())
    assert "manifest.json" in _unzip(target.read_bytes())


def test_the_command_fails_for_an_unknown_client_or_a_zip_without_a_file(lucia):
    with pytest.raises(CommandError, match="No client"):
        call_command("gdpr_export", "nobody@mail.example")
    with pytest.raises(CommandError, match="-o FILE"):
        call_command("gdpr_export", str(lucia.pk), "--zip")
    assert not AuditEntry.objects.filter(action=EXPORTED_ACTION).exists()


def test_the_command_records_a_named_manager_and_refuses_staff(lucia, manager_user, staff_user):
    with pytest.raises(CommandError, match="MANAGER or ADMIN"):
        call_command("gdpr_export", str(lucia.pk), "--actor", staff_user.email, stdout=io.StringIO())
    call_command("gdpr_export", str(lucia.pk), "--actor", manager_user.email, stdout=io.StringIO())
    assert AuditEntry.objects.get(action=EXPORTED_ACTION).actor == manager_user


# --- The registry check ---------------------------------------------------------------------


def _without(model: str) -> tuple[Holder, ...]:
    return tuple(holder for holder in REGISTRY if holder.model != model)


def test_the_registry_check_finds_a_model_left_out_of_the_registry():
    problems = unregistered(registry=_without("crm.Questionnaire"))
    assert ("crm.Questionnaire", "answers", "looks personal") in problems
    assert ("crm.Questionnaire", "client", "links to crm.Client, which holds client data") in problems


def test_the_registry_check_finds_a_personal_field_left_out():
    client_fields = {name: level for name, level in personal_data.CLIENT.fields.items() if name != "notes"}
    registry = tuple(
        Holder(h.model, h.section, h.links, client_fields, h.erasure) if h.model == "crm.Client" else h
        for h in REGISTRY
    )
    assert unregistered(registry=registry) == [("crm.Client", "notes", "looks personal")]


def test_the_registry_check_finds_a_field_marked_not_personal_no_more():
    exemptions = {**NOT_PERSONAL, "catalog.Product": {}}
    assert unregistered(not_personal=exemptions) == [("catalog.Product", "name", "looks personal")]


def test_the_registry_check_finds_a_registered_field_that_does_not_exist():
    registry = (*REGISTRY, Holder("crm.Questionnaire", "extra", ("client",), {"mood": Level.HEALTH}))
    assert ("crm.Questionnaire", "mood", "no such field") in unregistered(registry=registry)


def test_the_system_check_reports_what_the_registry_misses(monkeypatch):
    monkeypatch.setattr(personal_data, "unregistered", lambda: [("crm.Client", "nickname", "looks personal")])
    errors = checks.check_personal_data_registry(None)
    assert [error.id for error in errors] == ["beils.E003"] and "crm.Client.nickname" in errors[0].msg
    monkeypatch.undo()
    assert checks.check_personal_data_registry(None) == []


def test_the_registry_only_judges_the_projects_own_models():
    labels = {model._meta.app_label for model in project_models()}
    assert labels == {
        "audit", "crm", "catalog", "marketing", "sales", "bookings", "transfer", "backups", "maintenance", "legacy"
    }  # fmt: skip
