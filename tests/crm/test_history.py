"""Field-level history on clients, consents, bookings and invoices: who changed what, and the scrub
that erasure will call."""

import pytest
from django.urls import reverse

from beils.lib.history import history_scrub
from bookings.models import BookingStatus
from crm.models import Client
from sales.models import SalesError
from tests import factories as f
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db


def test_creating_and_editing_a_client_records_each_version():
    client = f.ClientFactory(phone="+34600000001")
    client.phone = "+34600000002"
    client.save()
    versions = list(client.history.order_by("history_id"))
    assert [v.history_type for v in versions] == ["+", "~"]
    assert [v.phone for v in versions] == ["+34600000001", "+34600000002"]
    [change] = versions[1].diff_against(versions[0]).changes
    assert (change.field, change.old, change.new) == ("phone", "+34600000001", "+34600000002")


def test_an_admin_edit_records_the_staff_member_who_made_it(admin_user, admin_browser):
    client = f.ClientFactory(name="Lucía", city=None)
    page = admin_browser.get(admin_url(Client, "change", client.pk))
    data = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    data.update({"name": "Lucía", "status": "ON", "city": "Girona"})
    for prefix in ("consents", "revokes", "questionnaires"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    response = admin_browser.post(admin_url(Client, "change", client.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    latest = client.history.latest()
    assert latest.city == "Girona"
    assert latest.history_user == admin_user


def test_an_api_edit_records_the_token_owner(staff_user):
    client = f.ClientFactory()
    response = api_as(staff_user).patch(f"/api/clients/{client.pk}", {"city": "Lleida"}, format="json")
    assert response.status_code == 200, response.content
    latest = client.history.latest()
    assert (latest.city, latest.history_user) == ("Lleida", staff_user)


def test_the_admin_history_page_lists_the_changes(admin_browser):
    client = f.ClientFactory(city="Reus")
    client.city = "Tarragona"
    client.save()
    response = admin_browser.get(reverse("admin:crm_client_history", args=[client.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Tarragona" in page and "Reus" in page


def test_history_cannot_be_used_to_revert_a_record(admin_browser):
    client = f.ClientFactory(city="Reus")
    first = client.history.earliest()
    client.city = "Tarragona"
    client.save()
    url = reverse("admin:crm_client_simple_history", args=[client.pk, first.history_id])
    assert admin_browser.get(url).status_code == 200
    assert admin_browser.post(url, {"name": client.name, "city": "Reus"}).status_code == 403
    client.refresh_from_db()
    assert client.city == "Tarragona"


def test_a_booking_status_change_is_recorded():
    booking = f.BookingFactory()
    booking.confirm()
    assert [v.status for v in booking.history.order_by("history_id")] == [
        BookingStatus.PENDING,
        BookingStatus.CONFIRMED,
    ]


def test_an_invoice_has_only_its_creation_record_and_stays_immutable():
    invoice = f.InvoiceFactory()
    invoice.customer_name = "Forged"
    with pytest.raises(SalesError):
        invoice.save()
    with pytest.raises(SalesError):
        type(invoice).objects.filter(pk=invoice.pk).update(customer_name="Forged")
    [version] = invoice.history.all()
    assert version.history_type == "+"
    assert version.customer_name != "Forged"


def test_history_scrub_deletes_only_that_records_history():
    client, other = f.ClientFactory(), f.ClientFactory()
    client.notes = "Allergic to latex"
    client.save()
    assert history_scrub(client) == 2
    assert not client.history.exists()
    assert other.history.count() == 1


def test_history_scrub_works_for_bookings_invoices_and_deleted_rows():
    booking, invoice = f.BookingFactory(), f.InvoiceFactory()
    client = f.ClientFactory()
    client_pk = client.pk
    client.delete()  # no sales or bookings: deletable, which adds a "-" row
    gone = Client(pk=client_pk)
    assert history_scrub(booking) == 1
    assert history_scrub(invoice) == 1
    assert history_scrub(gone) == 2
    assert not Client.history.filter(id=client_pk).exists()
