"""The invoice PDF as the customer gets it: the salon, the lines and totals with money as money,
hostile names printed as text, and a QR code that a phone reads as the tax office's check URL."""

import re
import shutil
import subprocess
from decimal import Decimal
from io import BytesIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import translation
from pypdf import PdfReader

from sales.receipts import invoice_pdf, verifactu_qr_url
from tests import factories as f

pytestmark = pytest.mark.django_db

HOSTILE = 'Zoë <b>Peña</b> & "Ñandú" =SUM(A1) </para>'


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


@pytest.fixture
def invoice():
    cart = f.CompletedCartFactory(client__name="Zoë", client__surname="Peña")
    f.CartItemFactory(cart=cart, name=HOSTILE, quantity=2, unit_price=Decimal("1234.50"), gross=Decimal("2469.00"),
                      net=Decimal("2040.50"), tax=Decimal("428.50"))  # fmt: skip
    f.PaymentFactory(cart=cart, method="CASH", amount=Decimal("69.00"))
    f.PaymentFactory(cart=cart, method="CARD", amount=Decimal("2400.00"))
    return f.InvoiceFactory(
        cart=cart,
        customer_name=HOSTILE,
        net_total=Decimal("2040.50"),
        tax_total=Decimal("428.50"),
        total=Decimal("2469.00"),
        tax_breakdown={"21.00": {"net": "2040.50", "tax": "428.50", "gross": "2469.00"}},
    )


def test_the_pdf_prints_the_invoice_in_spanish_with_money_as_money(invoice):
    with translation.override("es"):
        text = pdf_text(invoice_pdf(invoice))
    assert invoice.number in text
    assert re.sub(r"\s", "", HOSTILE) in re.sub(r"\s", "", text)  # printed as text, not read as markup
    squeezed = re.sub(r"\s", "", text)  # Spanish groups thousands with a non-breaking space
    assert "2469,00€" in squeezed and "Efectivo:69,00€" in squeezed and "Tarjeta:2400,00€" in squeezed
    assert invoice.hash in squeezed
    assert "Base imponible" in text


def test_the_pdf_speaks_english_to_an_english_user(invoice):
    with translation.override("en"):
        text = pdf_text(invoice_pdf(invoice))
    assert "2,469.00 €" in text
    assert "Taxable base" in text


def test_the_qr_url_carries_the_invoice_s_verifactu_data(invoice, settings):
    url = urlsplit(verifactu_qr_url(invoice))
    assert f"{url.scheme}://{url.netloc}{url.path}" == settings.VERIFACTU_QR_URL
    assert parse_qs(url.query) == {
        "nif": [invoice.issuer_tax_id],
        "numserie": [invoice.number],
        "fecha": [invoice.issue_date.strftime("%d-%m-%Y")],
        "importe": ["2469.00"],
    }


@pytest.mark.skipif(not (shutil.which("pdftoppm") and shutil.which("zbarimg")), reason="poppler-utils and zbar-tools")
def test_a_phone_reads_the_printed_qr_as_the_check_url(invoice, tmp_path):
    (tmp_path / "invoice.pdf").write_bytes(invoice_pdf(invoice))
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", "invoice.pdf", "page"], cwd=tmp_path, check=True)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", "page.png"], cwd=tmp_path, capture_output=True, text=True)
    assert decoded.stdout.strip() == verifactu_qr_url(invoice)


def test_a_rectifying_invoice_names_what_it_rectifies(invoice):
    rectifying = f.InvoiceFactory(
        cart=invoice.cart, kind="R", series="R", rectifies=invoice, reason="Devolución <total>",
        net_total=Decimal("-2040.50"), tax_total=Decimal("-428.50"), total=Decimal("-2469.00"),
    )  # fmt: skip
    with translation.override("en"):
        text = pdf_text(invoice_pdf(rectifying))
    assert f"Rectifies invoice {invoice.number}" in text
    assert "Devolución <total>" in text
    assert "-2,469.00 €" in text
