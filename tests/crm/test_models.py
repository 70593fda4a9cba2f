"""Clients, staff accounts and consents: the rules the database itself enforces, and the verbs."""

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.test import Client as Browser

from beils.lib.models import Status
from crm.models import Client, ClientHasHistory, Consent, ConsentStatus, ConsentType, Questionnaire, Revoke, Role, User
from crm.roles import GROUP_NAMES
from marketing.models import ClientBonus
from tests.factories import (
    PASSWORD,
    BookingFactory,
    CartFactory,
    ClientBonusFactory,
    ClientFactory,
    ConsentFactory,
    DebtFactory,
    QuestionnaireFactory,
    RevokeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


# --- Staff accounts -----------------------------------------------------------------------


def test_it_refuses_duplicate_user_email():
    User.objects.create_user(email="ana@salon.example", password=PASSWORD, name="Ana")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="ana@salon.example", name="Another Ana")


def test_it_stores_user_emails_in_lower_case_so_case_variants_collide():
    User.objects.create_user(email="Ana@Salon.Example", password=PASSWORD, name="Ana")
    assert User.all_objects.get().email == "ana@salon.example"
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="ANA@salon.example", password=PASSWORD, name="Ana again")


def test_it_refuses_a_blank_user_email_in_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="", name="Nobody", password="x")])


def test_a_switched_off_user_cannot_log_in(outsider):
    assert outsider.is_active is False
    assert outsider.is_staff is False
    assert Browser().login(email=outsider.email, password=PASSWORD) is False


def test_deactivating_a_user_stops_their_login_and_reactivating_restores_it(staff_user):
    staff_user.deactivate()
    staff_user.refresh_from_db()
    assert (staff_user.status, staff_user.is_active, staff_user.is_staff) == (Status.OFF, False, False)
    assert Browser().login(email=staff_user.email, password=PASSWORD) is False

    staff_user.reactivate()
    staff_user.refresh_from_db()
    assert staff_user.is_active is True
    assert Browser().login(email=staff_user.email, password=PASSWORD) is True


def test_a_user_deactivated_in_bulk_cannot_log_in(staff_user):
    User.all_objects.filter(pk=staff_user.pk).deactivate()
    staff_user.refresh_from_db()
    assert staff_user.status == Status.OFF
    assert Browser().login(email=staff_user.email, password=PASSWORD) is False


@pytest.mark.parametrize("role", list(Role))
def test_a_new_user_belongs_to_exactly_the_group_of_their_role(role):
    user = UserFactory(role=role)
    assert list(user.groups.values_list("name", flat=True)) == [GROUP_NAMES[role]]


def test_changing_a_role_moves_the_user_to_exactly_that_group(staff_user):
    staff_user.role = Role.MANAGER
    staff_user.save()
    assert list(staff_user.groups.values_list("name", flat=True)) == ["Manager"]

    staff_user.role = Role.ADMIN
    staff_user.save(update_fields=["role"])
    assert list(staff_user.groups.values_list("name", flat=True)) == ["Admin"]


def test_a_stray_group_membership_is_removed_when_the_role_is_synced(staff_user):
    stray = Group.objects.create(name="Stray")
    staff_user.groups.add(stray)
    staff_user.save()
    assert list(staff_user.groups.values_list("name", flat=True)) == ["Staff"]


def test_the_active_manager_hides_switched_off_users(staff_user, outsider):
    assert list(User.objects.all()) == [staff_user]
    assert set(User.all_objects.all()) == {staff_user, outsider}


# --- Clients ------------------------------------------------------------------------------


def test_it_refuses_duplicate_client_email():
    Client.objects.create(name="Ana", email="ana@mail.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.create(name="Ana B", email="ana@mail.example")


def test_it_refuses_a_client_email_that_differs_only_in_letter_case():
    Client.objects.create(name="Ana", email="ana@mail.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.create(name="Ana B", email="ANA@Mail.Example")


def test_it_stores_client_email_in_lower_case():
    client = Client.objects.create(name="Ana", email="  Ana@Mail.EXAMPLE ")
    client.refresh_from_db()
    assert client.email == "ana@mail.example"


def test_two_clients_without_email_are_allowed():
    Client.objects.create(name="Ana")
    Client.objects.create(name="Bea", email=None)
    assert Client.objects.filter(email__isnull=True).count() == 2


def test_a_blank_client_email_is_stored_as_null():
    first = Client.objects.create(name="Ana", email="")
    second = Client.objects.create(name="Bea", email="   ")
    assert Client.objects.filter(pk__in=[first.pk, second.pk], email__isnull=True).count() == 2


def test_blank_optional_text_is_stored_as_null_not_empty():
    client = Client.objects.create(name="Ana", surname="", phone=" ", notes="")
    client.refresh_from_db()
    assert (client.surname, client.phone, client.notes) == (None, None, None)


def test_the_database_refuses_a_blank_client_email_that_skips_save():
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.bulk_create([Client(name="Ana", email="")])


def test_the_database_refuses_a_document_number_without_a_type():
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.create(name="Ana", document_number="12345678Z")


def test_document_numbers_are_masked_for_lists():
    client = ClientFactory.build(document_type="DNI", document_number="12345678Z")
    assert client.masked_document == "••••••78Z"


def test_the_default_manager_hides_deactivated_clients_and_all_objects_sees_them():
    active, gone = ClientFactory(), ClientFactory(status=Status.OFF)
    assert list(Client.objects.all()) == [active]
    assert set(Client.all_objects.all()) == {active, gone}
    assert Client._default_manager.name == "all_objects"


def test_deactivate_records_when_and_reactivate_clears_it():
    client = ClientFactory()
    client.deactivate()
    client.refresh_from_db()
    assert client.status == Status.OFF
    assert client.deactivated_at is not None
    assert not Client.objects.filter(pk=client.pk).exists()

    client.reactivate()
    client.refresh_from_db()
    assert client.status == Status.ON
    assert client.deactivated_at is None
    assert Client.objects.filter(pk=client.pk).exists()


def test_a_sale_still_reaches_its_deactivated_client():
    cart = CartFactory()
    cart.client.deactivate()
    cart = type(cart).objects.get(pk=cart.pk)
    assert cart.client.status == Status.OFF


def test_deleting_a_client_without_history_takes_their_personal_data_with_them():
    client = ClientFactory()
    consent = ConsentFactory(client=client)
    RevokeFactory(consent=consent)
    QuestionnaireFactory(client=client)
    ClientBonusFactory(client=client)

    client.delete()

    assert not Client.all_objects.filter(pk=client.pk).exists()
    assert not Consent.objects.filter(client_id=client.pk).exists()
    assert not Revoke.objects.filter(client_id=client.pk).exists()
    assert not Questionnaire.objects.filter(client_id=client.pk).exists()
    assert not ClientBonus.objects.filter(client_id=client.pk).exists()


@pytest.mark.parametrize(
    "make_history",
    [lambda c: CartFactory(client=c), lambda c: BookingFactory(client=c), lambda c: DebtFactory(client=c)],
    ids=["sale", "booking", "debt"],
)
def test_it_refuses_to_delete_a_client_with_history(make_history):
    client = ClientFactory()
    make_history(client)

    with pytest.raises(ClientHasHistory) as refused, transaction.atomic():
        client.delete()

    assert isinstance(refused.value, ProtectedError)
    message = str(refused.value.args[0]).lower()
    assert "deactivate" in message and "erase" in message
    assert Client.all_objects.filter(pk=client.pk).exists()


@pytest.mark.parametrize(
    "make_history",
    [lambda c: CartFactory(client=c), lambda c: BookingFactory(client=c), lambda c: DebtFactory(client=c)],
    ids=["sale", "booking", "debt"],
)
def test_a_queryset_delete_of_a_client_with_history_is_refused_too(make_history):
    client = ClientFactory()
    make_history(client)

    with pytest.raises(ProtectedError), transaction.atomic():
        Client.all_objects.filter(pk=client.pk).delete()

    assert Client.all_objects.filter(pk=client.pk).exists()


def test_with_history_lists_only_clients_with_sales_bookings_or_debts():
    quiet, buyer, booked = ClientFactory(), ClientFactory(), ClientFactory()
    CartFactory(client=buyer)
    CartFactory(client=buyer)
    BookingFactory(client=booked)
    assert set(Client.all_objects.with_history()) == {buyer, booked}
    assert quiet.has_history() is False
    assert buyer.has_history() is True


def test_search_finds_clients_by_any_contact_field():
    ana = ClientFactory(name="Ana", surname="Pérez", email="ana@mail.example", phone="+34611222333")
    ClientFactory(name="Bea", surname="Ruiz")
    for term in ["ana", "pérez", "ana@mail", "611222"]:
        assert list(Client.objects.search(term)) == [ana], term


# --- Consents -----------------------------------------------------------------------------


def test_it_refuses_a_second_consent_of_the_same_type_for_a_client():
    consent = ConsentFactory(kind=ConsentType.LASER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Consent.objects.create(client=consent.client, kind=ConsentType.LASER)


def test_a_client_may_hold_one_consent_of_each_type():
    client = ClientFactory()
    for kind in ConsentType:
        Consent.objects.create(client=client, kind=kind)
    assert client.consents.count() == len(ConsentType)


def test_the_database_refuses_a_signed_consent_without_a_date():
    with pytest.raises(IntegrityError), transaction.atomic():
        Consent.objects.create(client=ClientFactory(), kind=ConsentType.INDIBA, status=ConsentStatus.SIGNED)


def test_sign_records_the_signature_time():
    consent = ConsentFactory()
    consent.sign()
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.SIGNED
    assert consent.signed_at is not None
    assert list(Consent.objects.signed()) == [consent]


def test_revoke_records_the_reason_and_marks_the_consent_revoked():
    consent = ConsentFactory()
    consent.sign()

    revoke = consent.revoke("No longer wants photos taken")

    consent.refresh_from_db()
    assert consent.status == ConsentStatus.REVOKED
    assert Revoke.objects.get() == revoke
    assert (revoke.client, revoke.consent, revoke.reason) == (consent.client, consent, "No longer wants photos taken")
    assert revoke.revoked_at is not None


def test_revoke_without_a_reason_stores_null():
    revoke = ConsentFactory().revoke()
    revoke.refresh_from_db()
    assert revoke.reason is None


def test_a_birth_date_in_the_future_is_refused_by_validation():
    from datetime import timedelta

    from django.core.exceptions import ValidationError
    from django.utils import timezone

    client = ClientFactory()
    client.birth_date = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        client.full_clean()
    assert refused.value.message_dict["birth_date"] == ["A birth date cannot be in the future."]
    client.birth_date = timezone.localdate()
    client.full_clean()


def test_the_database_refuses_a_future_birth_date_on_insert_and_on_update():
    from datetime import date

    client = ClientFactory(birth_date=date(1990, 5, 17))
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.all_objects.filter(pk=client.pk).update(birth_date=date(2999, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.all_objects.bulk_create([Client(name="Future", birth_date=date(2999, 1, 1))])
    client.refresh_from_db()
    assert client.birth_date == date(1990, 5, 17)
    assert Client.all_objects.count() == 1
    Client.all_objects.filter(pk=client.pk).update(birth_date=None)  # unknown stays allowed
