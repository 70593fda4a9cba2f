"""Duplicate clients: found by email, phone or document number, and merged into one."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEntry
from beils.lib.models import Status
from bookings.models import Booking
from crm.models import Client, ClientMergeRecord, Consent, ConsentStatus, ConsentType, CrmError, Questionnaire, Revoke
from crm.services import client_merge, client_merge_preview
from marketing.models import ClientBonus, GiftCard
from sales.models import Cart, Debt
from tests.factories import (
    BookingFactory,
    CartFactory,
    ClientBonusFactory,
    ClientFactory,
    ConsentFactory,
    DebtFactory,
    GiftCardFactory,
    QuestionnaireFactory,
    RevokeFactory,
    SignedConsentFactory,
)
from tests.helpers import admin_url, changelist_rows

pytestmark = pytest.mark.django_db


# --- finding duplicates ----------------------------------------------------------------------


def test_clients_with_the_same_phone_written_differently_are_possible_duplicates():
    ana = ClientFactory(phone="+34 600 111 222")
    ana_again = ClientFactory(phone="600-111-222")
    also = ClientFactory(phone="0034 600.111.222")
    ClientFactory(phone="600 111 223")

    assert set(Client.objects.possible_duplicates()) == {ana, ana_again, also}


def test_clients_with_the_same_document_number_are_possible_duplicates():
    one = ClientFactory(document_type="DNI", document_number="12345678-Z")
    other = ClientFactory(document_type="DNI", document_number="12345678z")
    ClientFactory(document_type="DNI", document_number="87654321X")
    assert set(Client.objects.possible_duplicates()) == {one, other}


def test_an_email_differing_only_in_case_from_a_legacy_import_is_a_possible_duplicate():
    if connection.vendor == "mysql":
        pytest.skip("MariaDB's case-insensitive collation refuses such an email in the unique index itself")
    one, other = ClientFactory(email="ana@mail.example"), ClientFactory(email="other@mail.example")
    Client.all_objects.filter(pk=other.pk).update(email="ANA@mail.example ")
    assert set(Client.objects.possible_duplicates()) == {one, other}


def test_deactivated_clients_and_typing_noise_are_not_duplicates():
    ClientFactory(phone="600111222")
    ClientFactory(phone="600111222", status=Status.OFF)
    ClientFactory(phone="12", email=None)
    ClientFactory(phone="12", email=None)
    assert not Client.objects.possible_duplicates().exists()


def test_duplicates_of_a_client_are_the_other_active_clients_matching_it():
    ana = ClientFactory(phone="600111222", document_type="DNI", document_number="12345678Z")
    by_phone = ClientFactory(phone="+34600111222")
    by_document = ClientFactory(phone=None, document_type="DNI", document_number="12345678z")
    ClientFactory(phone="+34600111222", status=Status.OFF)
    ClientFactory()
    assert set(Client.objects.duplicates_of(ana)) == {by_phone, by_document}


# --- merging -----------------------------------------------------------------------------------


def _history_of(client):
    """One of every record that can point at a client."""
    return {
        "cart": CartFactory(client=client),
        "booking": BookingFactory(client=client),
        "debt": DebtFactory(client=client),
        "questionnaire": QuestionnaireFactory(client=client),
        "revoke": RevokeFactory(consent=ConsentFactory(client=client, kind=ConsentType.LASER)),
        "bono": ClientBonusFactory(client=client),
        "gift_card": GiftCardFactory(owner=client),
    }


def test_merging_moves_every_record_of_the_duplicates_to_the_survivor(admin_user):
    survivor, duplicate, other = ClientFactory(), ClientFactory(), ClientFactory()
    moved = {**_history_of(duplicate), "second_cart": CartFactory(client=other)}
    untouched = CartFactory(client=ClientFactory())

    result = client_merge(survivor=survivor, duplicates=[duplicate, other], actor=admin_user)

    assert Cart.objects.filter(client=survivor).count() == 2
    for model, lookup in [
        (Booking, "client"),
        (Debt, "client"),
        (Questionnaire, "client"),
        (Revoke, "client"),
        (Consent, "client"),
        (ClientBonus, "client"),
        (GiftCard, "owner"),
    ]:
        assert model._base_manager.filter(**{lookup: survivor}).count() == 1, model
    assert Cart.objects.get(pk=untouched.pk).client_id != survivor.pk
    assert Client.all_objects.get(pk=duplicate.pk).status == Status.OFF
    assert Client.all_objects.get(pk=other.pk).status == Status.OFF
    assert f"Merged into client #{survivor.pk}." in Client.all_objects.get(pk=duplicate.pk).notes
    assert result.merged_ids == sorted([duplicate.pk, other.pk])
    assert result.moved["sales.cart"] == 2 and result.moved["marketing.giftcard"] == 1
    assert moved["revoke"].consent.pk in set(survivor.consents.values_list("pk", flat=True))


def test_the_preview_counts_what_would_move_and_changes_nothing():
    survivor, duplicate = ClientFactory(phone=None), ClientFactory()
    _history_of(duplicate)
    CartFactory(client=duplicate)

    preview = client_merge_preview(survivor=survivor, duplicates=[duplicate])

    assert preview.moved == {
        "crm.consent": 1,
        "crm.revoke": 1,
        "crm.questionnaire": 1,
        "marketing.clientbonus": 1,
        "marketing.giftcard": 1,
        "sales.cart": 2,
        "sales.debt": 1,
        "bookings.booking": 1,
    }
    assert preview.filled_fields == ["phone"]
    assert Cart.objects.filter(client=duplicate).count() == 2
    assert Client.all_objects.get(pk=duplicate.pk).status == Status.ON
    assert not AuditEntry.objects.exists()


def test_the_survivor_keeps_one_consent_per_type_the_signed_one_over_an_unsigned_one():
    survivor, duplicate = ClientFactory(), ClientFactory()
    unsigned = ConsentFactory(client=survivor, kind=ConsentType.DATA_PROTECTION)
    signed = SignedConsentFactory(client=duplicate, kind=ConsentType.DATA_PROTECTION)

    result = client_merge(survivor=survivor, duplicates=[duplicate], actor=None)

    assert list(Consent.objects.filter(client=survivor).values_list("pk", "status")) == [
        (signed.pk, ConsentStatus.SIGNED)
    ]
    assert not Consent.objects.filter(pk=unsigned.pk).exists()
    assert result.consents_replaced == [unsigned.pk]


def test_the_latest_decision_wins_and_an_older_revocation_stays_on_record():
    survivor, duplicate = ClientFactory(), ClientFactory()
    recently_signed = SignedConsentFactory(client=survivor, kind=ConsentType.INDIBA, signed_at=timezone.now())
    old = SignedConsentFactory(
        client=duplicate, kind=ConsentType.INDIBA, signed_at=timezone.now() - timedelta(days=400)
    )
    revocation = old.revoke("No longer interested", when=timezone.now() - timedelta(days=300))

    client_merge(survivor=survivor, duplicates=[duplicate], actor=None)

    kept = Consent.objects.get(client=survivor, kind=ConsentType.INDIBA)
    assert (kept.pk, kept.status) == (recently_signed.pk, ConsentStatus.SIGNED)
    revocation.refresh_from_db()
    assert (revocation.client_id, revocation.consent_id) == (survivor.pk, kept.pk)


def test_a_newer_revocation_on_the_duplicate_beats_an_older_signature():
    survivor, duplicate = ClientFactory(), ClientFactory()
    SignedConsentFactory(client=survivor, kind=ConsentType.MARKETING, signed_at=timezone.now() - timedelta(days=30))
    revoked = SignedConsentFactory(
        client=duplicate, kind=ConsentType.MARKETING, signed_at=timezone.now() - timedelta(days=60)
    )
    revoked.revoke("Unsubscribed", when=timezone.now() - timedelta(days=1))

    client_merge(survivor=survivor, duplicates=[duplicate], actor=None)

    kept = Consent.objects.get(client=survivor, kind=ConsentType.MARKETING)
    assert (kept.pk, kept.status) == (revoked.pk, ConsentStatus.REVOKED)


def test_the_survivors_empty_fields_are_filled_and_the_email_moves_over():
    survivor = ClientFactory(email=None, phone="600111222", birth_date=None)
    duplicate = ClientFactory(
        email="ana@mail.example", phone="600999888", document_type="NIE", document_number="X1234567L"
    )

    result = client_merge(survivor=survivor, duplicates=[duplicate], actor=None)

    survivor.refresh_from_db()
    assert (survivor.email, survivor.phone) == ("ana@mail.example", "600111222")
    assert (survivor.document_type, survivor.document_number) == ("NIE", "X1234567L")
    assert Client.all_objects.get(pk=duplicate.pk).email is None
    assert result.filled_fields == ["email", "document_type", "document_number"]


def test_a_merge_that_fails_half_way_leaves_nothing_moved():
    survivor, duplicate = ClientFactory(), ClientFactory()
    _history_of(duplicate)
    SignedConsentFactory(client=survivor, kind=ConsentType.DATA_PROTECTION)
    duplicate_consent = ConsentFactory(client=duplicate, kind=ConsentType.DATA_PROTECTION)

    with (
        mock.patch("crm.services.audit_log", side_effect=RuntimeError("audit table unavailable")),
        pytest.raises(RuntimeError),
    ):
        client_merge(survivor=survivor, duplicates=[duplicate], actor=None)

    assert Cart.objects.filter(client=survivor).count() == 0
    assert Booking.objects.filter(client=duplicate).count() == 1
    assert Consent.objects.filter(pk=duplicate_consent.pk, client=duplicate).exists()
    assert Client.all_objects.get(pk=duplicate.pk).status == Status.ON


def test_a_merge_is_audited_with_ids_and_counts_only(manager_user):
    survivor = ClientFactory(name="Ana", email="ana@mail.example")
    duplicate = ClientFactory(name="Ana", email=None, phone="600111222")
    CartFactory(client=duplicate)

    client_merge(survivor=survivor, duplicates=[duplicate], actor=manager_user)

    entry = AuditEntry.objects.get(action="crm.client.merged")
    assert (entry.actor, entry.target_type, entry.target_id) == (manager_user, "crm.client", str(survivor.pk))
    assert entry.detail == {
        "survivor_id": survivor.pk,
        "merged_ids": [duplicate.pk],
        "moved": {"sales.cart": 1},
        "consents_replaced": [],
        "filled_fields": [],
        "merge_id": ClientMergeRecord.objects.get().pk,
    }


@pytest.mark.parametrize(
    ("case", "message"),
    [("itself", "cannot also be merged"), ("nobody", "at least one"), ("inactive survivor", "deactivated")],
)
def test_impossible_merges_are_refused(case, message):
    survivor = ClientFactory(status=Status.OFF if case == "inactive survivor" else Status.ON)
    duplicates = {"itself": [survivor, ClientFactory()], "nobody": [], "inactive survivor": [ClientFactory()]}[case]
    with pytest.raises(CrmError, match=message):
        client_merge(survivor=survivor, duplicates=duplicates, actor=None)
    assert not AuditEntry.objects.exists()


# --- the admin -------------------------------------------------------------------------------


def _merge_action(browser, clients, **extra):
    data = {"action": "merge_selected", "_selected_action": [c.pk for c in clients], **extra}
    return browser.post(admin_url(Client, "changelist"), data)


def test_the_possible_duplicates_filter_lists_only_duplicates(manager_browser):
    one, other = ClientFactory(phone="600111222"), ClientFactory(phone="+34 600 111 222")
    ClientFactory()
    response = manager_browser.get(admin_url(Client, "changelist"), {"duplicates": "yes"})
    assert set(changelist_rows(response)) == {one, other}
    assert "Possible duplicates" in response.content.decode()


def test_the_merge_action_first_shows_a_preview_and_changes_nothing(manager_browser):
    older, newer = ClientFactory(name="Ana"), ClientFactory(name="Ana B")
    CartFactory(client=newer)

    response = _merge_action(manager_browser, [newer, older], index="0")

    assert response.status_code == 200
    assert response.context["survivor"] == older
    html = response.content.decode()
    assert "move 1 sales" in html
    assert "deactivate 1 client" in html
    assert Cart.objects.get().client == newer


def test_the_preview_follows_the_client_chosen_to_keep(manager_browser):
    older, newer = ClientFactory(), ClientFactory()
    CartFactory(client=older)
    response = _merge_action(manager_browser, [older, newer], survivor=str(newer.pk), preview="yes")
    assert response.context["survivor"] == newer
    assert response.context["preview"].moved == {"sales.cart": 1}


def test_confirming_the_merge_merges_into_the_chosen_client(manager_browser):
    older, newer = ClientFactory(), ClientFactory()
    CartFactory(client=older)

    response = _merge_action(manager_browser, [older, newer], survivor=str(newer.pk), confirm="yes")

    assert response.status_code == 302
    assert Cart.objects.get().client == newer
    assert Client.all_objects.get(pk=older.pk).status == Status.OFF
    assert AuditEntry.objects.filter(action="crm.client.merged", target_id=str(newer.pk)).exists()


def test_staff_cannot_merge_clients(staff_browser):
    older, newer = ClientFactory(), ClientFactory()
    CartFactory(client=older)

    page = staff_browser.get(admin_url(Client, "changelist"))
    response = _merge_action(staff_browser, [older, newer], survivor=str(newer.pk), confirm="yes")

    assert "merge_selected" not in dict(page.context["action_form"].fields["action"].choices)
    assert response.status_code in (200, 302)
    assert Cart.objects.get().client == older
    assert Client.all_objects.get(pk=older.pk).status == Status.ON


@pytest.mark.parametrize("browser", ["admin_browser", "manager_browser"])
def test_admins_and_managers_are_offered_the_merge(browser, request):
    page = request.getfixturevalue(browser).get(admin_url(Client, "changelist"))
    assert "merge_selected" in dict(page.context["action_form"].fields["action"].choices)


def test_a_merge_of_a_single_client_is_refused_with_a_message(manager_browser):
    client = ClientFactory()
    response = _merge_action(manager_browser, [client], index="0")
    assert response.status_code == 302
    assert Client.all_objects.get(pk=client.pk).status == Status.ON
