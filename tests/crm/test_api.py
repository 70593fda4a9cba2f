"""The REST API of the crm app: staff accounts, clients, consents, revocations, questionnaires."""

import pytest
from rest_framework.test import APIClient

from beils.lib.models import Status
from crm.models import Client, ConsentStatus, Role, User
from tests.factories import (
    PASSWORD,
    BookingFactory,
    CartFactory,
    ClientFactory,
    ConsentFactory,
    QuestionnaireFactory,
    RevokeFactory,
)
from tests.helpers import api_as

# --- Authentication and roles ---------------------------------------------------------------


def test_anonymous_calls_get_401_and_switched_off_accounts_too(db, outsider):
    assert APIClient().get("/api/clients").status_code == 401
    assert api_as(outsider).get("/api/clients").status_code == 401


def test_every_role_lists_users_but_only_admins_create_or_change_them(admin_user, manager_user, staff_user):
    new = {"email": "nina@salon.example", "name": "Nina", "role": Role.STAFF, "password": PASSWORD}
    for user in (manager_user, staff_user):
        api = api_as(user)
        assert api.get("/api/users").status_code == 200
        assert api.post("/api/users", new, format="json").status_code == 403
        assert api.patch(f"/api/users/{admin_user.pk}", {"name": "X"}, format="json").status_code == 403
        assert api.delete(f"/api/users/{staff_user.pk}").status_code == 403
    assert api_as(admin_user).post("/api/users", new, format="json").status_code == 201


def test_the_session_of_the_admin_works_too(admin_browser):
    assert admin_browser.get("/api/users").status_code == 200


# --- Users ----------------------------------------------------------------------------------


def test_users_never_show_a_password_and_a_new_user_can_log_in(admin_user):
    api = api_as(admin_user)
    response = api.post(
        "/api/users",
        {"email": "Nina@Salon.example", "name": "Nina", "role": Role.MANAGER, "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "password" not in body and body["email"] == "nina@salon.example" and body["role"] == "MANAGER"
    nina = User.objects.get(email="nina@salon.example")
    assert nina.check_password(PASSWORD) and nina.groups.get().name == "Manager"
    listing = api.get("/api/users").json()
    assert all("password" not in row for row in listing["results"])


def test_a_user_needs_a_strong_password(admin_user):
    api = api_as(admin_user)
    weak = api.post("/api/users", {"email": "a@salon.example", "name": "A", "password": "123"}, format="json")
    assert weak.status_code == 400 and "password" in weak.json()
    missing = api.post("/api/users", {"email": "a@salon.example", "name": "A"}, format="json")
    assert missing.status_code == 400 and "password" in missing.json()
    assert not User.all_objects.filter(email="a@salon.example").exists()


def test_an_admin_changes_a_password(admin_user, staff_user):
    response = api_as(admin_user).patch(
        f"/api/users/{staff_user.pk}", {"password": "another-long-password-77"}, format="json"
    )
    assert response.status_code == 200
    staff_user.refresh_from_db()
    assert staff_user.check_password("another-long-password-77")


def test_deleting_a_user_switches_the_account_off(admin_user, staff_user):
    api = api_as(admin_user)
    assert api.delete(f"/api/users/{staff_user.pk}").status_code == 204
    staff_user = User.all_objects.get(pk=staff_user.pk)
    assert staff_user.status == Status.OFF and not staff_user.is_active
    listed = {row["email"] for row in api.get("/api/users").json()["results"]}
    assert staff_user.email not in listed
    assert staff_user.email in {row["email"] for row in api.get("/api/users?status=OFF").json()["results"]}
    assert api.delete(f"/api/users/{admin_user.pk}").status_code == 400


def test_users_filter_by_role_and_search(admin_user, manager_user, staff_user):
    api = api_as(admin_user)
    rows = api.get("/api/users?role=MANAGER").json()["results"]
    assert [row["email"] for row in rows] == [manager_user.email]
    rows = api.get("/api/users?search=sara").json()["results"]
    assert [row["email"] for row in rows] == [staff_user.email]


def test_bulk_user_creation_is_all_or_nothing(admin_user):
    api = api_as(admin_user)
    people = [
        {"email": f"bulk{n}@salon.example", "name": f"Bulk {n}", "role": Role.STAFF, "password": PASSWORD}
        for n in range(3)
    ]
    people.append({"email": "not-an-email", "name": "Broken", "password": PASSWORD})
    response = api.post("/api/users", people, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["index"] for e in errors] == [3] and "email" in errors[0]
    assert not User.all_objects.filter(email__startswith="bulk").exists()

    response = api.post("/api/users", people[:3], format="json")
    assert response.status_code == 201 and len(response.json()) == 3
    assert User.objects.filter(email__startswith="bulk").count() == 3


# --- Clients --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["admin_user", "manager_user", "staff_user"])
def test_every_role_lists_creates_and_updates_clients(persona, request):
    api = api_as(request.getfixturevalue(persona))
    created = api.post("/api/clients", {"name": "Lucía", "email": "lucia@mail.example"}, format="json")
    assert created.status_code == 201, created.json()
    client_id = created.json()["id"]
    assert api.get("/api/clients").json()["count"] == 1
    assert api.get(f"/api/clients/{client_id}").json()["name"] == "Lucía"
    assert api.patch(f"/api/clients/{client_id}", {"city": "Girona"}, format="json").json()["city"] == "Girona"
    updated = api.put(f"/api/clients/{client_id}", {"name": "Lucía", "surname": "Pons"}, format="json")
    assert updated.status_code == 200 and updated.json()["surname"] == "Pons"


def test_optional_client_fields_are_null_not_blank(staff_user):
    response = api_as(staff_user).post("/api/clients", {"name": "Ana", "phone": "", "email": ""}, format="json")
    assert response.status_code == 201, response.json()
    client = Client.objects.get(pk=response.json()["id"])
    assert client.phone is None and client.email is None and client.birth_date is None


def test_client_validation_errors_name_the_field(staff_user):
    response = api_as(staff_user).post("/api/clients", {"email": "nope", "birth_date": "soon"}, format="json")
    assert response.status_code == 400
    assert {"name", "email", "birth_date"} <= set(response.json())


def test_a_document_number_needs_its_type(staff_user):
    response = api_as(staff_user).post("/api/clients", {"name": "Ana", "document_number": "12345678Z"}, format="json")
    assert response.status_code == 400


def test_document_numbers_are_masked_in_lists_and_shown_to_who_may_change_clients(staff_user, manager_user):
    client = ClientFactory(document_type="DNI", document_number="12345678Z")
    row = api_as(staff_user).get("/api/clients").json()["results"][0]
    assert row["document_number"] == client.masked_document and "12345678Z" not in str(row)
    assert api_as(staff_user).get(f"/api/clients/{client.pk}").json()["document_number"] == "12345678Z"


def test_users_who_may_only_view_clients_see_masked_documents(db, manager_user):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user(email="viewer@salon.example", password=PASSWORD, name="V", role=Role.STAFF)
    viewer.groups.clear()
    viewer.user_permissions.add(Permission.objects.get(codename="view_client"))
    client = ClientFactory(document_type="DNI", document_number="12345678Z")
    assert api_as(viewer).get(f"/api/clients/{client.pk}").json()["document_number"] == client.masked_document


def test_a_client_with_the_email_of_a_deactivated_client_offers_reactivation(staff_user):
    old = ClientFactory(email="eva@mail.example", status=Status.OFF)
    response = api_as(staff_user).post("/api/clients", {"name": "Eva", "email": "EVA@mail.example"}, format="json")
    assert response.status_code == 400
    message = response.json()["email"][0]
    assert "deactivated" in message and "reactivate" in message.lower() and str(old.pk) in message
    taken = api_as(staff_user).post("/api/clients", {"name": "Eva", "email": ClientFactory().email}, format="json")
    assert taken.status_code == 400 and "already exists" in taken.json()["email"][0]


def test_deleting_a_client_deactivates_them(staff_user, manager_user):
    client = ClientFactory()
    api = api_as(staff_user)
    assert api.delete(f"/api/clients/{client.pk}/").status_code == 204
    client = Client.all_objects.get(pk=client.pk)
    assert client.status == Status.OFF and client.deactivated_at is not None
    assert api.get("/api/clients").json()["count"] == 0
    assert api.get("/api/clients?include_inactive=1").json()["count"] == 1
    assert api.get("/api/clients?status=OFF").json()["results"][0]["id"] == client.pk
    # Still reachable by id, and restorable.
    restored = api.patch(f"/api/clients/{client.pk}", {"status": "ON"}, format="json")
    assert restored.status_code == 200 and Client.objects.filter(pk=client.pk).exists()


def test_only_admins_hard_delete_a_client_and_never_one_with_history(admin_user, manager_user, staff_user):
    plain, with_sale, with_booking = ClientFactory(), ClientFactory(), ClientFactory()
    CartFactory(client=with_sale)
    BookingFactory(client=with_booking)
    for user in (staff_user, manager_user):
        assert api_as(user).delete(f"/api/clients/{plain.pk}?hard=1").status_code == 403
    api = api_as(admin_user)
    for client in (with_sale, with_booking):
        response = api.delete(f"/api/clients/{client.pk}?hard=1")
        assert response.status_code == 409
        assert "cannot be deleted" in response.json()["detail"]
        assert Client.objects.filter(pk=client.pk).exists()
    assert api.delete(f"/api/clients/{plain.pk}?hard=true").status_code == 204
    assert not Client.all_objects.filter(pk=plain.pk).exists()


def test_bulk_client_creation_reports_every_bad_item_and_writes_nothing(staff_user):
    api = api_as(staff_user)
    ClientFactory(email="taken@mail.example")
    items = [
        {"name": "One", "email": "one@mail.example"},
        {"email": "two@mail.example"},
        {"name": "Three", "email": "taken@mail.example"},
        {"name": "Four", "email": "one@mail.example"},
        "not an object",
    ]
    response = api.post("/api/clients", items, format="json")
    assert response.status_code == 400
    errors = {e["index"]: e for e in response.json()["errors"]}
    assert set(errors) == {1, 2, 3, 4}
    assert "name" in errors[1] and "email" in errors[2] and "email" in errors[3]
    assert Client.all_objects.count() == 1

    response = api.post("/api/clients", items[:1] + [{"name": "Two"}], format="json")
    assert response.status_code == 201 and [c["name"] for c in response.json()] == ["One", "Two"]
    assert Client.objects.count() == 3


def test_an_empty_bulk_is_refused(staff_user):
    assert api_as(staff_user).post("/api/clients", [], format="json").status_code == 400


def test_clients_are_paginated_filtered_ordered_and_searched(staff_user):
    for n in range(55):
        ClientFactory(name=f"Client {n:02d}", city="Girona" if n % 5 == 0 else "Reus")
    api = api_as(staff_user)
    page = api.get("/api/clients").json()
    assert page["count"] == 55 and len(page["results"]) == 50 and page["next"]
    assert len(api.get("/api/clients?page=2").json()["results"]) == 5
    assert api.get("/api/clients?city=Girona").json()["count"] == 11
    names = [c["name"] for c in api.get("/api/clients?ordering=-name").json()["results"]]
    assert names[0] == "Client 54" and names == sorted(names, reverse=True)
    assert api.get("/api/clients?search=Client 07&ordering=name").json()["results"][0]["name"] == "Client 07"
    assert api.get(f"/api/clients?search={Client.objects.get(name='Client 07').phone}").json()["count"] == 1


# --- Consents, revocations, questionnaires ---------------------------------------------------


def test_staff_record_consents_but_only_managers_delete_them(staff_user, manager_user):
    client = ClientFactory()
    api = api_as(staff_user)
    response = api.post("/api/crm/consents", {"client": client.pk, "kind": "LASER", "status": "SIGNED"}, format="json")
    assert response.status_code == 400 and "signed_at" in response.json()
    response = api.post(
        "/api/crm/consents",
        {"client": client.pk, "kind": "LASER", "status": "SIGNED", "signed_at": "2026-01-10T10:00:00Z"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    duplicate = api.post("/api/crm/consents", {"client": client.pk, "kind": "LASER"}, format="json")
    assert duplicate.status_code == 400
    consent_id = response.json()["id"]
    assert api.get(f"/api/crm/consents?client={client.pk}").json()["count"] == 1
    assert api.delete(f"/api/crm/consents/{consent_id}").status_code == 403
    assert api_as(manager_user).delete(f"/api/crm/consents/{consent_id}").status_code == 204


def test_recording_a_revocation_revokes_the_consent(staff_user, admin_user):
    consent = ConsentFactory(status=ConsentStatus.SIGNED, signed_at="2026-01-01T10:00:00Z")
    api = api_as(staff_user)
    response = api.post("/api/crm/revokes", {"consent": consent.pk, "reason": "By email"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["client"] == consent.client_id
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.REVOKED
    again = api.post("/api/crm/revokes", {"consent": consent.pk}, format="json")
    assert again.status_code == 400
    revoke_id = response.json()["id"]
    admin = api_as(admin_user)  # even those who may do anything cannot rewrite a revocation
    assert admin.patch(f"/api/crm/revokes/{revoke_id}", {"reason": "x"}, format="json").status_code == 405
    assert admin.delete(f"/api/crm/revokes/{revoke_id}").status_code == 405


def test_revocations_list(staff_user):
    RevokeFactory()
    assert api_as(staff_user).get("/api/crm/revokes").json()["count"] == 1


def test_questionnaires_hold_answers_as_an_object(staff_user, manager_user):
    client = ClientFactory()
    api = api_as(staff_user)
    bad = api.post("/api/crm/questionnaires", {"client": client.pk, "title": "Intake", "answers": [1]}, format="json")
    assert bad.status_code == 400
    response = api.post(
        "/api/crm/questionnaires",
        {"client": client.pk, "title": "Intake", "answers": {"allergies": "latex"}},
        format="json",
    )
    assert response.status_code == 201 and response.json()["answers"] == {"allergies": "latex"}
    QuestionnaireFactory(client=client)
    assert api.get(f"/api/crm/questionnaires?client={client.pk}").json()["count"] == 2
    assert api.delete(f"/api/crm/questionnaires/{response.json()['id']}").status_code == 403
    assert api_as(manager_user).delete(f"/api/crm/questionnaires/{response.json()['id']}").status_code == 204


def test_a_client_born_in_the_future_is_a_400_and_a_failing_import_row(admin_user):
    from datetime import timedelta

    from django.utils import timezone

    from beils.lib.formats import CSV
    from transfer.resources.crm import ClientResource

    tomorrow = timezone.localdate() + timedelta(days=1)
    response = api_as(admin_user).post(
        "/api/clients", {"name": "Ana", "birth_date": tomorrow.isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["birth_date"] == ["A birth date cannot be in the future."]

    raw = f"Email,Name,Birth date\r\nana@mail.example,Ana,{tomorrow.isoformat()}\r\n".encode()
    result = ClientResource().import_data(CSV().create_dataset(raw))
    assert result.has_errors()
    assert not Client.all_objects.exists()
