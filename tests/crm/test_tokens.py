"""API tokens: hashed at rest, expiring, issued under the login lockout, revoked with the person."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEntry, Outcome
from crm.models import ApiToken, Role, User
from tests.factories import PASSWORD
from tests.helpers import admin_url, api_as, issue_token

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/auth/token"
HOME = "203.0.113.7"


def ask_for_token(email, password, ip=HOME):
    return APIClient(REMOTE_ADDR=ip).post(TOKEN_URL, {"email": email, "password": password}, format="json")


def bearer(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def stored_values() -> str:
    """Every column of every stored token, as one string to search for a secret."""
    return json.dumps(list(ApiToken.objects.values()), default=str)


# --- Issuing --------------------------------------------------------------------------------


def test_the_right_password_gets_a_bearer_token_that_works(staff_user):
    response = ask_for_token(staff_user.email, PASSWORD)
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert bearer(token).get("/api/clients").status_code == 200


def test_the_token_is_stored_only_as_a_digest(staff_user):
    token = ask_for_token(staff_user.email, PASSWORD).json()["token"]
    assert ApiToken.objects.filter(user=staff_user).count() == 1
    assert token not in stored_values()


def test_the_token_expires_after_api_token_ttl_hours(staff_user, settings):
    response = ask_for_token(staff_user.email, PASSWORD)
    expiry = ApiToken.objects.get(user=staff_user).expiry
    assert settings.API_TOKEN_TTL_HOURS == 720
    assert abs(expiry - (timezone.now() + timedelta(hours=720))) < timedelta(minutes=1)
    assert response.json()["expiry"]


def test_an_expired_token_is_refused(staff_user):
    token = issue_token(staff_user)
    ApiToken.objects.filter(user=staff_user).update(expiry=timezone.now() - timedelta(seconds=1))
    assert bearer(token).get("/api/clients").status_code == 401


def test_a_wrong_password_gets_no_token_and_the_refusal_is_audited(staff_user):
    response = ask_for_token(staff_user.email, "wrong-password")
    assert response.status_code == 400
    assert "token" not in response.json()
    assert not ApiToken.objects.exists()
    entry = AuditEntry.objects.get(action="crm.token.refused")
    assert entry.outcome == Outcome.FAILURE and entry.actor_label == staff_user.email
    assert "wrong-password" not in json.dumps(entry.detail)


def test_a_deactivated_person_gets_no_token(outsider):
    response = ask_for_token(outsider.email, PASSWORD)
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_issuing_is_audited_without_the_secret(staff_user):
    token = ask_for_token(staff_user.email, PASSWORD).json()["token"]
    entry = AuditEntry.objects.get(action="crm.token.issued")
    assert entry.actor == staff_user and entry.outcome == Outcome.SUCCESS
    digest = ApiToken.objects.get().digest
    recorded = json.dumps([entry.detail, entry.target_label, entry.target_id])
    assert token not in recorded and digest not in recorded


def test_failed_attempts_count_toward_the_lockout_and_a_locked_out_person_gets_no_token(staff_user):
    for _ in range(5):
        assert ask_for_token(staff_user.email, "wrong-password").status_code in (400, 429)
    response = ask_for_token(staff_user.email, PASSWORD)
    assert response.status_code == 429
    assert "token" not in response.json()
    assert "locked" in response.json()["detail"].lower()
    assert not ApiToken.objects.exists()
    assert AuditEntry.objects.filter(action="crm.login.locked_out").exists()
    # Another address is not locked out: the pair is.
    assert ask_for_token(staff_user.email, PASSWORD, ip="198.51.100.9").status_code == 200


def test_a_request_without_email_or_password_is_a_clear_400(db):
    response = APIClient().post(TOKEN_URL, {}, format="json")
    assert response.status_code == 400
    assert "email" in response.json() and "password" in response.json()


# --- Revoking -------------------------------------------------------------------------------


def deactivate_by_model(user, admin_user):
    user.deactivate()


def deactivate_by_queryset(user, admin_user):
    # The admin's "Deactivate" action goes through the queryset: no save(), no signals.
    User.all_objects.filter(pk=user.pk).deactivate()


def deactivate_by_api(user, admin_user):
    assert api_as(admin_user).patch(f"/api/users/{user.pk}", {"status": "OFF"}, format="json").status_code == 200


def deactivate_by_api_delete(user, admin_user):
    assert api_as(admin_user).delete(f"/api/users/{user.pk}").status_code == 204


def change_role_by_model(user, admin_user):
    user.role = Role.MANAGER
    user.save()


def change_role_by_api(user, admin_user):
    response = api_as(admin_user).patch(f"/api/users/{user.pk}", {"role": Role.MANAGER}, format="json")
    assert response.status_code == 200


def change_role_by_queryset(user, admin_user):
    User.all_objects.filter(pk=user.pk).update(role=Role.MANAGER)


@pytest.mark.parametrize(
    "change",
    [
        deactivate_by_model,
        deactivate_by_queryset,
        deactivate_by_api,
        deactivate_by_api_delete,
        change_role_by_model,
        change_role_by_api,
        change_role_by_queryset,
    ],
)
def test_deactivating_a_person_or_changing_their_role_revokes_all_their_tokens(change, staff_user, admin_user):
    tokens = [issue_token(staff_user), issue_token(staff_user)]
    kept = issue_token(admin_user)
    change(User.all_objects.get(pk=staff_user.pk), admin_user)
    assert not ApiToken.objects.filter(user=staff_user).exists()
    for token in tokens:
        assert bearer(token).get("/api/clients").status_code == 401
    assert bearer(kept).get("/api/clients").status_code == 200


def test_deactivating_from_the_admin_changelist_revokes_tokens(admin_browser, staff_user):
    token = issue_token(staff_user)
    admin_browser.post(
        admin_url(User, "changelist"),
        {"action": "deactivate_selected", "index": "0", "_selected_action": [staff_user.pk]},
    )
    assert bearer(token).get("/api/clients").status_code == 401


def test_an_import_that_changes_a_role_revokes_tokens(staff_user):
    from transfer.resources.crm import UserResource

    token = issue_token(staff_user)
    dataset = UserResource().export(User.all_objects.filter(pk=staff_user.pk))
    dataset.dict = [{**row, "role": Role.MANAGER} for row in dataset.dict]
    result = UserResource().import_data(dataset, dry_run=False, raise_errors=True)
    assert not result.has_errors()
    assert User.all_objects.get(pk=staff_user.pk).role == Role.MANAGER
    assert bearer(token).get("/api/clients").status_code == 401


def test_other_changes_keep_the_tokens(staff_user):
    token = issue_token(staff_user)
    staff_user.name = "Sarita"
    staff_user.save()
    assert bearer(token).get("/api/clients").status_code == 200


def test_revoking_is_audited(staff_user):
    issue_token(staff_user)
    staff_user.deactivate()
    entry = AuditEntry.objects.get(action="crm.token.revoked")
    assert entry.detail["count"] == 1 and entry.detail["reason"] == "deactivated"


# --- Admin ----------------------------------------------------------------------------------


def test_the_admin_lists_tokens_without_their_secret_or_digest(admin_browser, staff_user):
    token = issue_token(staff_user)
    stored = ApiToken.objects.get(user=staff_user)
    response = admin_browser.get(admin_url(ApiToken, "changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert staff_user.email in html and stored.token_key[:8] in html
    assert token not in html and stored.digest not in html and stored.token_key not in html
    detail = admin_browser.get(admin_url(ApiToken, "change", stored.pk)).content.decode()
    assert token not in detail and stored.digest not in detail and stored.token_key not in detail


def test_an_admin_revokes_a_token_from_the_admin(admin_browser, staff_user):
    token = issue_token(staff_user)
    stored = ApiToken.objects.get(user=staff_user)
    response = admin_browser.post(admin_url(ApiToken, "delete", stored.pk), {"post": "yes"})
    assert response.status_code == 302
    assert bearer(token).get("/api/clients").status_code == 401


def test_the_admin_cannot_mint_tokens_from_the_form(admin_browser):
    assert admin_browser.get(admin_url(ApiToken, "add")).status_code == 403


def test_only_admins_see_tokens(manager_browser, staff_browser, staff_user):
    issue_token(staff_user)
    for browser in (manager_browser, staff_browser):
        assert browser.get(admin_url(ApiToken, "changelist")).status_code == 403


# --- Command --------------------------------------------------------------------------------


def test_drf_create_token_prints_a_working_token_on_its_last_line(staff_user):
    out = StringIO()
    call_command("drf_create_token", staff_user.email, stdout=out)
    token = out.getvalue().strip().splitlines()[-1].split()[-1]
    assert bearer(token).get("/api/clients").status_code == 200
    assert token not in stored_values()
    assert AuditEntry.objects.filter(action="crm.token.issued").exists()


def test_drf_create_token_refuses_an_unknown_or_deactivated_person(outsider):
    from django.core.management import CommandError

    for email in ("nobody@salon.example", outsider.email):
        with pytest.raises(CommandError):
            call_command("drf_create_token", email, stdout=StringIO())
    assert not ApiToken.objects.exists()
