"""The client and staff screens of the admin."""

import pytest
from django.test import Client as Browser

from beils.lib.models import Status
from crm.models import Client, ConsentStatus, Role, User
from tests.factories import PASSWORD, BookingFactory, CartFactory, ClientFactory, ConsentFactory, DebtFactory
from tests.helpers import admin_url, changelist_rows, inline_management_data

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


def _messages(response):
    return [str(message) for message in response.context["messages"]]


def _post_new_client(browser, **fields):
    page = browser.get(admin_url(Client, "add"))
    data = {"name": "New client", "status": Status.ON, **inline_management_data(page), **fields}
    return browser.post(admin_url(Client, "add"), data)


def test_client_names_are_escaped_in_the_changelist(admin_browser):
    ClientFactory(name=SCRIPT)
    html = admin_browser.get(admin_url(Client, "changelist")).content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_client_names_are_escaped_on_related_changelists(admin_browser):
    CartFactory(client=ClientFactory(name=SCRIPT))
    html = admin_browser.get(admin_url(CartFactory._meta.model, "changelist")).content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html


def test_document_numbers_are_masked_in_the_changelist(admin_browser):
    ClientFactory(document_type="DNI", document_number="12345678Z")
    html = admin_browser.get(admin_url(Client, "changelist")).content.decode()
    assert "12345678Z" not in html
    assert "••••••78Z" in html


def test_the_admin_creates_a_client_with_a_lower_case_email(admin_browser):
    response = _post_new_client(admin_browser, name="Irene", email="Irene@Mail.Example")
    assert response.status_code == 302
    assert Client.objects.get(name="Irene").email == "irene@mail.example"


def test_a_blank_email_in_the_admin_is_stored_as_null(admin_browser):
    _post_new_client(admin_browser, name="Irene", email="")
    _post_new_client(admin_browser, name="Inés", email="")
    assert Client.objects.filter(email__isnull=True).count() == 2


def test_the_email_of_an_active_client_is_refused_as_a_duplicate(admin_browser):
    ClientFactory(email="ana@mail.example")
    response = _post_new_client(admin_browser, email="ANA@mail.example")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"]
    assert Client.all_objects.filter(email="ana@mail.example").count() == 1


def test_the_email_of_a_deactivated_client_offers_to_reactivate_them(admin_browser):
    old = ClientFactory(name="Ana", surname="Old", email="ana@mail.example", status=Status.OFF)

    response = _post_new_client(admin_browser, email="Ana@Mail.Example")

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["email"]
    assert any("deactivated" in error and "reactivate" in error for error in errors)
    change_url = admin_url(Client, "change", old.pk)
    assert f'<a href="{change_url}">' in response.content.decode()
    assert Client.all_objects.filter(email="ana@mail.example").count() == 1


def test_editing_a_deactivated_client_keeps_their_own_email(admin_browser):
    old = ClientFactory(name="Ana", email="ana@mail.example", status=Status.OFF)
    page = admin_browser.get(admin_url(Client, "change", old.pk))
    response = admin_browser.post(
        admin_url(Client, "change", old.pk),
        {"name": "Ana", "email": "ana@mail.example", "status": Status.ON, **_inline_data_with_initial(page)},
    )
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.status == Status.ON


def _inline_data_with_initial(page):
    data = inline_management_data(page)
    for inline in page.context["inline_admin_formsets"]:
        data[f"{inline.formset.prefix}-INITIAL_FORMS"] = str(inline.formset.initial_form_count())
        data[f"{inline.formset.prefix}-TOTAL_FORMS"] = str(inline.formset.initial_form_count())
    return data


@pytest.mark.parametrize(
    "make_history",
    [lambda c: CartFactory(client=c), lambda c: BookingFactory(client=c), lambda c: DebtFactory(client=c)],
    ids=["sale", "booking", "debt"],
)
def test_deleting_a_client_with_history_is_refused_with_a_message(make_history, admin_browser):
    client = ClientFactory()
    make_history(client)

    response = admin_browser.post(admin_url(Client, "delete", client.pk), {"post": "yes"}, follow=True)

    assert response.redirect_chain == [(admin_url(Client, "change", client.pk), 302)]
    [message] = _messages(response)
    assert "cannot be deleted" in message and "Deactivate" in message
    assert Client.all_objects.filter(pk=client.pk).exists()


def test_the_delete_page_of_a_client_with_history_redirects_too(admin_browser):
    client = CartFactory().client
    response = admin_browser.get(admin_url(Client, "delete", client.pk))
    assert response.status_code == 302
    assert response["Location"] == admin_url(Client, "change", client.pk)


def test_a_client_without_history_can_be_deleted_with_their_consents(admin_browser):
    client = ClientFactory()
    ConsentFactory(client=client)

    response = admin_browser.post(admin_url(Client, "delete", client.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Client.all_objects.filter(pk=client.pk).exists()


def test_bulk_delete_of_a_client_with_history_is_refused(admin_browser):
    client = CartFactory().client
    response = admin_browser.post(
        admin_url(Client, "changelist"),
        {"action": "delete_selected", "index": "0", "_selected_action": [client.pk], "post": "yes"},
    )
    assert response.status_code == 200
    assert response.context["protected"], "the confirmation page should list the protected sale"
    assert "Cannot delete" in response.content.decode()
    assert Client.all_objects.filter(pk=client.pk).exists()


def test_the_sign_action_signs_unsigned_consents(admin_browser):
    unsigned = ConsentFactory()
    response = admin_browser.post(
        admin_url(type(unsigned), "changelist"),
        {"action": "sign_selected", "index": "0", "_selected_action": [unsigned.pk]},
        follow=True,
    )
    assert "1 consent signed." in _messages(response)
    unsigned.refresh_from_db()
    assert unsigned.status == ConsentStatus.SIGNED
    assert unsigned.signed_at is not None


def test_the_admin_creates_a_staff_account_in_its_roles_group(admin_browser):
    response = admin_browser.post(
        admin_url(User, "add"),
        {
            "email": "New.Person@Salon.Example",
            "name": "New",
            "surname": "Person",
            "role": Role.MANAGER,
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.person@salon.example")
    assert list(user.groups.values_list("name", flat=True)) == ["Manager"]
    assert Browser().login(email="new.person@salon.example", password=PASSWORD)


def test_the_users_changelist_hides_switched_off_accounts(admin_browser, staff_user, outsider):
    rows = changelist_rows(admin_browser.get(admin_url(User, "changelist")))
    assert staff_user in rows
    assert outsider not in rows


def test_deactivating_a_user_from_the_changelist_stops_their_login(admin_browser, staff_user):
    admin_browser.post(
        admin_url(User, "changelist"),
        {"action": "deactivate_selected", "index": "0", "_selected_action": [staff_user.pk]},
    )
    staff_user.refresh_from_db()
    assert staff_user.status == Status.OFF
    assert Browser().login(email=staff_user.email, password=PASSWORD) is False


def test_the_revoke_inline_offers_only_the_clients_own_consents(admin_browser):
    own = ConsentFactory()
    someone_elses = ConsentFactory()

    response = admin_browser.get(admin_url(Client, "change", own.client.pk))

    [revokes] = [i for i in response.context["inline_admin_formsets"] if i.formset.model.__name__ == "Revoke"]
    offered = set(revokes.formset.empty_form.fields["consent"].queryset)
    assert own in offered
    assert someone_elses not in offered
