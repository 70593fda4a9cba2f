"""The invoice as a customer receives it: a one-page PDF with the salon, the customer, the lines,
VAT by rate, how it was paid and the invoice's place in the hash chain, and, as Spanish law asks
of every invoicing system (Real Decreto 1007/2023, Orden HAC/1177/2024), a QR code at the top that
lets the customer check the invoice at the tax office (AEAT) with its issuer's tax id, number,
date and total. Written in the active language; user data is escaped before it reaches
ReportLab's markup."""

from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from beils.lib.money import format_money
from sales.models import ArchivedCartItem, ArchivedPayment, CartItem, Invoice, InvoiceKind, Payment, PaymentMethod

QR_SIZE_MM = 35  # the AEAT asks for 30 to 40 mm, error correction level M


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    tax_rate: Decimal
    gross: Decimal


def verifactu_qr_url(invoice: Invoice) -> str:
    """The tax office's address for checking ``invoice``, as its QR code holds it: issuer's tax
    id, full number, issue date (dd-mm-yyyy) and total with a point for decimals."""
    query = urlencode(
        {
            "nif": invoice.issuer_tax_id,
            "numserie": invoice.number,
            "fecha": invoice.issue_date.strftime("%d-%m-%Y"),
            "importe": f"{invoice.total:.2f}",
        }
    )
    return f"{settings.VERIFACTU_QR_URL}?{query}"


def _sale_rows(invoice: Invoice, live, archived, fields: tuple[str, ...]) -> list[tuple]:
    """``fields`` of the sale's rows in ``live``, or in ``archived`` once the sale moved to the
    archive (same id)."""
    for model in (live, archived):
        rows = list(model.objects.filter(cart_id=invoice.cart_id).order_by("id").values_list(*fields))
        if rows:
            return rows
    return []


def receipt_lines(invoice: Invoice) -> list[ReceiptLine]:
    if invoice.cart_id is None:
        return []
    fields = ("name", "quantity", "unit_price", "discount", "tax_rate", "gross")
    return [ReceiptLine(*row) for row in _sale_rows(invoice, CartItem, ArchivedCartItem, fields)]


def receipt_payments(invoice: Invoice) -> list[tuple[str, Decimal]]:
    if invoice.cart_id is None or invoice.kind == InvoiceKind.RECTIFYING:
        return []
    labels = dict(PaymentMethod.choices)
    rows = _sale_rows(invoice, Payment, ArchivedPayment, ("method", "amount"))
    return [(str(labels.get(method, method)), amount) for method, amount in rows]


def invoice_pdf(invoice: Invoice) -> bytes:
    """``invoice`` as an A4 PDF, ready to print or attach to an e-mail."""
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    text, small = styles["Normal"], styles["BodyText"].clone("small", fontSize=7, leading=9)

    def para(value, style=text):
        return Paragraph(escape(str(value)), style)

    qr = QrCodeWidget(verifactu_qr_url(invoice), barLevel="M")
    left, bottom, right, top = qr.getBounds()
    side = QR_SIZE_MM * mm
    drawing = Drawing(side, side, transform=[side / (right - left), 0, 0, side / (top - bottom), 0, 0])
    drawing.add(qr)

    issuer = [
        Paragraph(f"<b>{escape(settings.SALON_NAME)}</b>", styles["Heading2"]),
        para(_("Tax id: %(tax_id)s") % {"tax_id": invoice.issuer_tax_id}),
        Spacer(1, 4),
        Paragraph(f"<b>{escape(str(invoice.get_kind_display()))}</b>", styles["Heading3"]),
        para(_("Number: %(number)s") % {"number": invoice.number}),
        para(_("Date: %(date)s") % {"date": formats.date_format(invoice.issue_date, "SHORT_DATE_FORMAT")}),
    ]
    if invoice.rectifies_id:
        issuer.append(para(_("Rectifies invoice %(number)s") % {"number": invoice.rectifies.number}))
        issuer.append(para(_("Reason: %(reason)s") % {"reason": invoice.reason or ""}))
    if invoice.customer_name or invoice.customer_tax_id:
        issuer.append(para(_("Customer: %(name)s") % {"name": invoice.customer_name or ""}))
        issuer.append(para(_("Customer tax id: %(tax_id)s") % {"tax_id": invoice.customer_tax_id or ""}))
    header = Table(
        [[[drawing, para(_("Invoice verifiable at the tax office (AEAT)"), small)], issuer]],
        colWidths=[side + 6 * mm, None],
    )
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))

    grid = TableStyle(
        [
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    lines = [[_("Description"), _("Qty"), _("Unit price"), _("Discount"), _("VAT %"), _("Total")]]
    for line in receipt_lines(invoice):
        lines.append(
            [
                para(line.name),
                str(line.quantity),
                format_money(line.unit_price),
                format_money(line.discount),
                formats.number_format(line.tax_rate, 2),
                format_money(line.gross),
            ]
        )
    line_table = Table(lines, colWidths=[70 * mm, 12 * mm, 25 * mm, 22 * mm, 16 * mm, 25 * mm], repeatRows=1)
    line_table.setStyle(grid)

    taxes = [[_("VAT %"), _("Taxable base"), _("VAT"), _("Total")]]
    for rate, sums in sorted((invoice.tax_breakdown or {}).items()):
        taxes.append(
            [formats.number_format(Decimal(rate), 2), *(format_money(sums.get(key)) for key in ("net", "tax", "gross"))]
        )
    taxes.append(
        [_("Total"), format_money(invoice.net_total), format_money(invoice.tax_total), format_money(invoice.total)]
    )
    tax_table = Table(taxes, colWidths=[25 * mm, 35 * mm, 30 * mm, 30 * mm], hAlign="RIGHT")
    tax_table.setStyle(TableStyle([*grid.getCommands(), ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold")]))

    story = [header, Spacer(1, 8 * mm), line_table, Spacer(1, 6 * mm), tax_table]
    payments = receipt_payments(invoice)
    if payments:
        story += [Spacer(1, 6 * mm), Paragraph(f"<b>{escape(pgettext('receipt', 'Paid'))}</b>", text)]
        story += [para(f"{method}: {format_money(amount)}") for method, amount in payments]
    story += [
        Spacer(1, 10 * mm),
        para(_("Record hash (SHA-256): %(hash)s") % {"hash": invoice.hash}, small),
        para(_("Previous record hash: %(hash)s") % {"hash": invoice.previous_hash or "—"}, small),
    ]

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{invoice.get_kind_display()} {invoice.number}",
        author=settings.SALON_NAME,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
    )
    document.build(story)
    return buffer.getvalue()
