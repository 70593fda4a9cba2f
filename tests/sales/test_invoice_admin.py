"""An invoice's page as the till uses it: the PDF to print, the e-mail to the client, and a refund
through a rectifying invoice, each allowed exactly to the roles that may do it."""

from decimal import Decimal
from io import BytesIO

import pytest
from django.core import mail
from pypdf import PdfReader

from audit.models import AuditEntry
from sales.models import Invoice, InvoiceKind
from sales.services import invoice_sequence_ensure
from tests import factories as f
from tests.conftest import _browser_for
from tests.factories import PASSWORD
from tests.helpers import api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice():
    cart = f.CompletedCartFactory(client__email="zoe@example.com")
    f.CartItemFactory(cart=cart)
    return f.InvoiceFactory(cart=cart)


def url(invoice, what):
    return f"/admin/sales/invoice/{invoice.pk}/{what}/"


@pytest.mark.parametrize("role", ["admin_user", "manager_user", "staff_user"])
def test_every_role_that_sees_invoices_prints_one(role, request, invoice):
    response = _browser_for(request.getfixturevalue(role)).get(url(invoice, "pdf"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]
    assert invoice.number in PdfReader(BytesIO(response.content)).pages[0].extract_text()


def test_no_one_signed_out_or_switched_off_gets_an_invoice(anonymous_browser, outsider, invoice):
    response = anonymous_browser.get(url(invoice, "pdf"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert anonymous_browser.login(email=outsider.email, password=PASSWORD) is False


def test_an_unknown_invoice_is_a_404_not_a_500(admin_browser):
    assert admin_browser.get("/admin/sales/invoice/999999/pdf/").status_code == 404
    for what in ("pdf", "email", "rectify"):
        assert admin_browser.get(f"/admin/sales/invoice/nonsense/{what}/").status_code in (302, 404)
    assert admin_browser.get("/admin/sales/cart/nonsense/checkout/").status_code in (302, 404)
    assert admin_browser.get("/admin/sales/debt/nonsense/pay/").status_code in (302, 404)
    assert admin_browser.get("/admin/bookings/booking/nonsense/charge/").status_code in (302, 404)


def test_the_invoice_is_emailed_to_its_client_and_audited(staff_browser, staff_user, invoice):
    page = staff_browser.get(f"/admin/sales/invoice/{invoice.pk}/change/")
    assert b"zoe@example.com" in page.content
    response = staff_browser.post(url(invoice, "email"))
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["zoe@example.com"] and invoice.number in message.subject
    (name, content, mimetype) = message.attachments[0]
    assert (name, mimetype) == (f"{invoice.number}.pdf", "application/pdf") and content.startswith(b"%PDF")
    entry = AuditEntry.objects.get(action="sales.invoice.emailed")
    assert entry.actor == staff_user


def test_an_invoice_without_a_client_email_is_not_sent(admin_browser, invoice):
    invoice.cart.client.email = None
    invoice.cart.client.save()
    response = admin_browser.post(url(invoice, "email"), follow=True)
    assert b"no e-mail address" in response.content
    assert mail.outbox == []


def test_only_an_admin_refunds_through_a_rectifying_invoice(admin_browser, manager_browser, staff_browser, invoice):
    invoice_sequence_ensure(series="RF")
    for browser in (manager_browser, staff_browser):
        assert browser.get(url(invoice, "rectify")).status_code == 403
        assert browser.post(url(invoice, "rectify"), {"reason": "Refund"}).status_code == 403
    assert not Invoice.objects.filter(kind=InvoiceKind.RECTIFYING).exists()
    page = admin_browser.get(f"/admin/sales/invoice/{invoice.pk}/change/")
    assert b"invoice-rectify" in page.content
    refused = admin_browser.post(url(invoice, "rectify"), {"reason": "   "})
    assert refused.status_code == 200 and not Invoice.objects.filter(kind=InvoiceKind.RECTIFYING).exists()
    response = admin_browser.post(url(invoice, "rectify"), {"reason": "Clienta insatisfecha: devolución"})
    rectifying = Invoice.objects.get(kind=InvoiceKind.RECTIFYING)
    assert response["Location"] == f"/admin/sales/invoice/{rectifying.pk}/change/"
    assert (rectifying.rectifies, rectifying.total) == (invoice, -invoice.total)
    assert rectifying.total == Decimal("-12.10")
    again = admin_browser.post(url(invoice, "rectify"), {"reason": "Twice"}, follow=True)
    assert b"already been rectified" in again.content
    assert Invoice.objects.filter(kind=InvoiceKind.RECTIFYING).count() == 1


def test_the_api_gives_the_invoice_pdf_to_those_who_read_invoices(staff_user, outsider, invoice):
    assert api_as(outsider).get(f"/api/sales/invoices/{invoice.pk}/pdf").status_code in (401, 403)
    response = api_as(staff_user).get(f"/api/sales/invoices/{invoice.pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
