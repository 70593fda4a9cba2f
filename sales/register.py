"""The register of issued invoices ("libro registro de facturas expedidas") for the accountant,
as CSV and XLSX, and the Veri*Factu record of each invoice as JSON, with the hash chain checked
in its header.

One row per invoice issued in the period (issue dates are the salon's local days), rectifying
invoices included with their negative amounts, and one pair of columns (taxable base, VAT) per
VAT rate present in the period, so that a spreadsheet sums each rate down its column. The VAT by
rate is what the invoice prints (``Invoice.tax_breakdown``); an invoice stored without it (the
demo data, older imports) is broken down from its sale's lines, live or archived.

The register's total reconciles with the sales report's revenue of the same days
(:func:`register_reconciliation`): the report sums the sales *completed* in the period (tips are
never part of a sale's total), the register the invoices *issued* in it.
"""

import csv
import io
import json
import pickle
import re
import tempfile
import typing
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.services import audit_log
from beils.lib.dates import day_bounds
from beils.lib.money import ZERO, round_money
from beils.lib.spreadsheets import csv_separator_for_reader, escape_formula
from sales.chain import invoice_chain_verify
from sales.models import ArchivedCartItem, Cart, CartItem, Invoice, InvoiceKind, SalesError
from sales.pricing import tax_breakdown

#: The longest period one register covers: a year, leap day included.
MAX_DAYS = 366
FORMATS = ("csv", "xlsx", "json")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
#: An invoice with neither a breakdown nor sale lines to make one: its amounts go in this column.
UNKNOWN_RATE = "?"
#: A Spanish tax id: DNI (8 digits and a letter), NIE (X/Y/Z, 7 digits, a letter) or a
#: company's NIF (a letter, 7 digits, a digit or letter). A passport number is not one.
NIF_PATTERN = re.compile(r"^([0-9]{8}[A-Z]|[XYZ][0-9]{7}[A-Z]|[ABCDEFGHJNPQRSUVW][0-9]{7}[0-9A-J])$")
#: The fields the hash chain covers (``sales.models.invoice_hash``), in the hashed order.
HASHED_FIELDS = ["issuer_tax_id", "number", "issue_date", "total", "previous_hash"]


@dataclass
class RegisterRow:
    issue_date: date
    number: str
    series: str
    kind: str
    customer_tax_id: str
    customer_name: str
    by_rate: dict[str, tuple[Decimal, Decimal]]  # rate → (taxable base, VAT)
    total: Decimal
    rectifies: str


@dataclass
class InvoiceRegister:
    start: date
    end: date
    rows: list[RegisterRow] = field(default_factory=list)
    rates: list[str] = field(default_factory=list)  # "21.00", "10.00", … highest first

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def total(self) -> Decimal:
        return sum((row.total for row in self.rows), ZERO)

    def iter_rows(self):
        return iter(self.rows)

    def rate_totals(self) -> dict[str, tuple[Decimal, Decimal]]:
        totals = {rate: (ZERO, ZERO) for rate in self.rates}
        for row in self.rows:
            for rate, (base, vat) in row.by_rate.items():
                totals[rate] = (totals[rate][0] + base, totals[rate][1] + vat)
        return totals


class SpooledRegister:
    """The register of a period for the files, its rows read a batch at a time and kept in a
    temporary file (pickled, one batch each) rather than in memory: the columns (one pair per VAT
    rate of the period) are only known once every row has been read. Same reading interface as
    :class:`InvoiceRegister`: ``rates``, ``count``, ``total``, ``rate_totals()``, ``iter_rows()``."""

    def __init__(self, *, start: date, end: date):
        self.start, self.end, self.count, self.total = start, end, 0, ZERO
        self._totals: dict[str, tuple[Decimal, Decimal]] = {}
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        for batch in _register_batches(start, end):
            for row in batch:
                self.count += 1
                self.total += row.total
                for rate, (base, vat) in row.by_rate.items():
                    sums = self._totals.get(rate, (ZERO, ZERO))
                    self._totals[rate] = (sums[0] + base, sums[1] + vat)
            pickle.dump(batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.rates = _sorted_rates(self._totals)

    def rate_totals(self) -> dict[str, tuple[Decimal, Decimal]]:
        return {rate: self._totals[rate] for rate in self.rates}

    def iter_rows(self):
        self._file.seek(0)
        while True:
            try:
                yield from pickle.load(self._file)  # noqa: S301 (our own temporary file)
            except EOFError:
                return

    def close(self) -> None:
        self._file.close()


def period_check(start: date, end: date) -> None:
    """Refuse a period that ends before it starts or is longer than ``MAX_DAYS``."""
    if start > end:
        raise SalesError(_("The period starts after it ends: choose a start on or before the end."))
    if (end - start).days + 1 > MAX_DAYS:
        raise SalesError(_("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS})


def month_period(month: str) -> tuple[date, date]:
    """``"2026-11"`` → the 1st and the last day of that month."""
    try:
        first = date(int(month[:4]), int(month[5:7]), 1) if re.fullmatch(r"\d{4}-\d{2}", month) else None
    except ValueError:
        first = None
    if first is None:
        raise SalesError(_("Write the month as YYYY-MM, e.g. 2026-11."))
    return first, previous_month(first + timedelta(days=31))[1]


def previous_month(today: date) -> tuple[date, date]:
    """The first and the last day of the month before ``today``'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def nif_or_empty(tax_id: str | None) -> str:
    cleaned = re.sub(r"[\s.-]", "", tax_id or "").upper()
    return cleaned if NIF_PATTERN.match(cleaned) else ""


def _in_period(start: date, end: date):
    return Invoice.objects.filter(issue_date__gte=start, issue_date__lte=end)


def invoice_register(*, start: date, end: date) -> InvoiceRegister:
    """The invoices issued from ``start`` to ``end`` (both included), in issue order."""
    period_check(start, end)
    register = InvoiceRegister(start=start, end=end)
    for batch in _register_batches(start, end):
        register.rows += batch
    register.rates = _sorted_rates({rate for row in register.rows for rate in row.by_rate})
    return register


def _sorted_rates(rates) -> list[str]:
    return sorted(rates, key=lambda rate: (rate == UNKNOWN_RATE, -Decimal(rate.replace("?", "0"))))


#: Invoices read per query. MariaDB's driver holds a whole result set in memory (Django's
#: ``.iterator()`` cannot stream there), so a year's register is read by primary keys, a batch
#: at a time; the sale-line breakdowns of each batch take two more grouped queries.
BATCH = 2000
REGISTER_FIELDS = ("pk", "issue_date", "number", "series", "kind", "customer_tax_id", "customer_name",
                   "tax_breakdown", "total", "cart_id", "rectifies__number")  # fmt: skip


def _pk_batches(queryset):
    """The primary keys of ``queryset`` in its order, ``BATCH`` at a time (the keys alone are
    read at once: a few MB for a year)."""
    pks = list(queryset.values_list("pk", flat=True))
    for i in range(0, len(pks), BATCH):
        yield pks[i : i + BATCH]


def _register_batches(start: date, end: date):
    """The period's register rows in issue order, a list of at most ``BATCH`` at a time."""
    for pks in _pk_batches(_in_period(start, end).order_by("issue_date", "pk")):
        found = {row[0]: row for row in Invoice.objects.filter(pk__in=pks).values_list(*REGISTER_FIELDS)}
        rows = [found[pk] for pk in pks if pk in found]
        from_lines = _breakdowns_from_lines({row[9] for row in rows if not row[7] and row[9]})
        batch = []
        for _pk, issued, number, series, kind, tax_id, name, breakdown, total, cart_id, rectifies in rows:
            negate = kind == InvoiceKind.RECTIFYING
            by_rate = _by_rate(breakdown, from_lines.get(cart_id), negate=negate, total=total)
            batch.append(
                RegisterRow(
                    issued, number, series, kind, nif_or_empty(tax_id), name or "", by_rate, total, rectifies or ""
                )
            )
        yield batch


def _breakdowns_from_lines(cart_ids: set[int]) -> dict[int, dict]:
    """The VAT breakdown of each sale's lines, read from the live lines or, for a sale moved to
    the archive, from the archived ones (two grouped queries, whatever the number of sales)."""
    found: dict[int, list] = {}
    for model in (CartItem, ArchivedCartItem):
        sums = (
            model.objects.filter(cart_id__in=cart_ids - set(found))
            .values("cart_id", "tax_rate")
            .annotate(net=Sum("net"), tax=Sum("tax"), gross=Sum("gross"))
            .order_by()
        )
        for row in sums:
            found.setdefault(row["cart_id"], []).append((row["tax_rate"], row["net"], row["tax"], row["gross"]))
    return {cart_id: tax_breakdown(lines) for cart_id, lines in found.items()}


def _by_rate(stored: dict, from_lines: dict | None, *, negate: bool, total: Decimal) -> dict:
    if stored:
        return {rate: (Decimal(sums["net"]), Decimal(sums["tax"])) for rate, sums in stored.items()}
    if from_lines:
        sign = -1 if negate else 1
        return {rate: (sign * Decimal(sums["net"]), sign * Decimal(sums["tax"])) for rate, sums in from_lines.items()}
    return {UNKNOWN_RATE: (total, ZERO)} if total else {}


# --- Reconciliation with the sales report ----------------------------------------------------


def register_reconciliation(register: InvoiceRegister) -> dict[str, Decimal]:
    """How the register's total follows from the sales report's revenue of the same days::

        register total = report revenue − sales of the period not invoiced in it
                         + invoices of the period whose sale the report does not count
                         + rectifying invoices of the period (negative)

    The report counts the live sales completed in the period (a tip is never part of a sale's
    total, so never revenue nor invoiced); an invoice counts on its issue day. They differ only
    when a sale was invoiced on another day than it was completed, has no invoice (imported
    history), was moved to the archive (the report reads the live sales only) or was rectified.
    ``reconciled`` says whether the sum above gives the register's total to the cent."""
    sales = Cart.objects.completed_between(*day_bounds(register.start, (register.end - register.start).days + 1))
    originals = _in_period(register.start, register.end).exclude(kind=InvoiceKind.RECTIFYING)
    in_report = Q(cart_id__in=sales.values("pk"))
    revenue = sales.revenue()
    uninvoiced = sales.exclude(pk__in=originals.filter(in_report).values("cart_id")).revenue()
    others = originals.filter(Q(cart_id__isnull=True) | ~in_report).aggregate(s=Sum("total"))["s"] or ZERO
    rectifying = _in_period(register.start, register.end).filter(kind=InvoiceKind.RECTIFYING)
    rectified = rectifying.aggregate(s=Sum("total"))["s"] or ZERO
    revenue, uninvoiced, others, rectified = (round_money(v) for v in (revenue, uninvoiced, others, rectified))
    return {
        "report_revenue": revenue,
        "sales_not_invoiced_in_period": uninvoiced,
        "invoices_of_sales_not_in_report": others,
        "rectifying_invoices": rectified,
        "register_total": register.total,
        "reconciled": revenue - uninvoiced + others + rectified == register.total,
    }


# --- CSV and XLSX ------------------------------------------------------------------------------


def rate_label(rate: str) -> str:
    if rate == UNKNOWN_RATE:
        return _("rate not recorded")
    return formats.number_format(Decimal(rate).normalize(), use_l10n=True) + "%"


def register_table(register: InvoiceRegister | SpooledRegister):
    """The register as rows of cells, one at a time (header first, the totals row last): text
    escaped for spreadsheets, amounts as Decimals, dates as dates."""
    header = [_("Issue date"), _("Number"), _("Series"), _("Type"), _("Customer tax id"), _("Customer")]
    for rate in register.rates:
        header += [_("Base %(rate)s") % {"rate": rate_label(rate)}, _("VAT %(rate)s") % {"rate": rate_label(rate)}]
    header += [_("Total"), _("Rectified invoice")]
    kinds = dict(InvoiceKind.choices)
    yield header
    for row in register.iter_rows():
        cells = [row.issue_date, row.number, row.series, str(kinds.get(row.kind, row.kind)), row.customer_tax_id,
                 row.customer_name]  # fmt: skip
        for rate in register.rates:
            cells += list(row.by_rate.get(rate, (ZERO, ZERO)))
        yield [escape_formula(cell) for cell in [*cells, row.total, row.rectifies]]
    totals = register.rate_totals()
    count = register.count
    footer = [_("Total"), ngettext("%(count)s invoice", "%(count)s invoices", count) % {"count": count}, "", "", "", ""]
    for rate in register.rates:
        footer += list(totals[rate])
    yield [*footer, register.total, ""]


def _csv_cell(value, decimal_separator: str):
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", decimal_separator)
    if isinstance(value, date):
        return value.isoformat()
    return value


def invoice_register_csv(register: InvoiceRegister) -> bytes:
    """CSV in the reader's language: ``;`` and ``12,50`` in Spanish, ``,`` and ``12.50`` in
    English (``beils.lib.spreadsheets.csv_separator_for_reader``: what a
    spreadsheet in that language expects). UTF-8 with a BOM, so Excel reads the accents."""
    out = io.BytesIO()
    write_register_csv(register, out)
    return out.getvalue()


def write_register_csv(register: InvoiceRegister | SpooledRegister, out) -> None:
    """:func:`invoice_register_csv` written to the binary file ``out``, 64 KB at a time."""
    decimal_separator = formats.get_format("DECIMAL_SEPARATOR")
    delimiter = csv_separator_for_reader()
    out.write("\ufeff".encode())
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    for row in register_table(register):
        writer.writerow([_csv_cell(value, decimal_separator) for value in row])
        if buffer.tell() > 65536:
            out.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode())


def invoice_register_xlsx(register: InvoiceRegister) -> bytes:
    """XLSX: amounts as numbers shown with two decimals, dates as dates, the totals row bold."""
    out = io.BytesIO()
    write_register_xlsx(register, out)
    return out.getvalue()


def write_register_xlsx(register: InvoiceRegister | SpooledRegister, out) -> None:
    """The XLSX written to the binary file ``out`` with XlsxWriter in constant-memory mode (~4×
    openpyxl's write-only speed): each row goes to a temporary file as it comes, in a private
    (0700) directory removed afterwards. Text is always written with ``write_string`` (never
    ``write``, which would turn ``=…`` into a formula), already escaped by :func:`register_table`."""
    import shutil

    import xlsxwriter

    tmpdir = tempfile.mkdtemp(prefix="beils-register-")  # 0700, its files 0600 (mkstemp)
    try:
        workbook = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False, "tmpdir": tmpdir})
        sheet = workbook.add_worksheet(_("Issued invoices")[:31])
        sheet.freeze_panes(1, 0)
        money, day = workbook.add_format({"num_format": "#,##0.00"}), workbook.add_format({"num_format": "yyyy-mm-dd"})
        bold = workbook.add_format({"bold": True})
        bold_money = workbook.add_format({"bold": True, "num_format": "#,##0.00"})

        def write_row(r: int, values, *, strong=False):
            for c, value in enumerate(values):
                if isinstance(value, Decimal):
                    sheet.write_number(r, c, float(value), bold_money if strong else money)
                elif isinstance(value, date):
                    sheet.write_datetime(r, c, value, day)
                elif value is None or value == "":
                    continue
                else:
                    sheet.write_string(r, c, str(value), bold if strong else None)

        table = register_table(register)
        write_row(0, next(table), strong=True)
        r, previous = 0, None
        for values in table:
            if previous is not None:
                write_row(r, previous)
            r, previous = r + 1, values
        write_row(r, previous, strong=True)
        workbook.close()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


# --- Veri*Factu records --------------------------------------------------------------------


def verifactu_records(*, start: date, end: date) -> dict:
    """Each invoice issued in the period as the hash chain records it, with a header holding the
    period, the issuer, the count, when it was generated and the whole chain's check
    (``invoice_chain_verify``: ok, or the first broken link)."""
    period_check(start, end)
    pks = _period_pks(start, end)
    records = [record for batch in _record_batches(pks) for record in batch]
    return {"header": _verifactu_header(start, end, len(records)), "records": records}


def _period_pks(start: date, end: date) -> list[int]:
    return list(_in_period(start, end).order_by("pk").values_list("pk", flat=True))


def _record_batches(pks: list[int]):
    """The records of the invoices ``pks``, ``BATCH`` at a time (a query each)."""
    for i in range(0, len(pks), BATCH):
        invoices = Invoice.objects.filter(pk__in=pks[i : i + BATCH]).order_by("pk").select_related("rectifies")
        yield [_record(invoice) for invoice in invoices]


def _verifactu_header(start: date, end: date, count: int) -> dict:
    chain = invoice_chain_verify()
    first = chain.first_broken
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "issuer": {"tax_id": settings.SALON_TAX_ID, "name": settings.SALON_NAME},
        "count": count,
        "generated_at": timezone.now().isoformat(),
        "hashed_fields": HASHED_FIELDS,
        "hash_algorithm": "SHA-256",
        "chain": {
            "ok": chain.ok,
            "invoices_checked": chain.invoices,
            "problems": len(chain.problems),
            "first_broken": first.as_dict() if first else None,
        },
    }


def write_verifactu(out, *, start: date, end: date) -> tuple[int, bool]:
    """The Veri*Factu records of the period as JSON (what :func:`verifactu_json` makes of
    :func:`verifactu_records`) written to the binary file ``out`` a batch of records at a time,
    one record a line; returns how many records it holds and whether the chain is intact."""
    period_check(start, end)
    pks = _period_pks(start, end)
    head = _verifactu_header(start, end, len(pks))
    header = json.dumps(head, ensure_ascii=False, indent=2)
    out.write(('{\n  "header": ' + header.replace("\n", "\n  ") + ',\n  "records": [').encode())
    separator, count = "\n    ", 0
    for batch in _record_batches(pks):
        chunk = []
        for record in batch:
            chunk.append(separator + json.dumps(record, ensure_ascii=False))
            separator = ",\n    "
        count += len(batch)
        out.write("".join(chunk).encode())
    out.write(("\n  ]\n}" if count else "]\n}").encode())
    return count, head["chain"]["ok"]


def _record(invoice: Invoice) -> dict:
    return {
        "issuer_tax_id": invoice.issuer_tax_id,
        "number": invoice.number,
        "series": invoice.series,
        "issue_date": invoice.issue_date.isoformat(),
        "kind": invoice.kind,
        "tax_total": f"{invoice.tax_total:.2f}",
        "total": f"{invoice.total:.2f}",
        "rectifies": invoice.rectifies.number if invoice.rectifies_id else None,
        "timestamp": invoice.created_at.isoformat(),
        "previous_hash": invoice.previous_hash or None,
        "hash": invoice.hash,
        "hash_matches": invoice.hash == invoice.compute_hash(),
    }


def verifactu_json(records: dict) -> bytes:
    return json.dumps(records, ensure_ascii=False, indent=2).encode()


# --- The one entry point for every download --------------------------------------------------


@dataclass(frozen=True)
class RegisterFile:
    """A file to download: ``file`` is an anonymous temporary file (0600, no name on disk, gone
    once closed), at its start; the admin and the API stream it, the command copies it."""

    name: str
    file: typing.BinaryIO
    content_type: str
    rows: int
    chain_ok: bool | None = None  # the JSON's chain check

    @property
    def content(self) -> bytes:
        self.file.seek(0)
        content = self.file.read()
        self.file.seek(0)
        return content

    def close(self) -> None:
        self.file.close()


def register_file(*, start: date, end: date, fmt: str) -> RegisterFile:
    """The register (``csv``/``xlsx``) or the Veri*Factu records (``json``) of the period, as a
    named file. Not audited: :func:`invoice_register_export` is what people call."""
    if fmt not in FORMATS:
        raise SalesError(_("Choose csv, xlsx or json."))
    period = f"{start.isoformat()}_{end.isoformat()}"
    out = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it, or the response does)
    try:
        if fmt == "json":
            count, chain_ok = write_verifactu(out, start=start, end=end)
            out.seek(0)
            return RegisterFile(f"verifactu-{period}.json", out, CONTENT_TYPES[fmt], count, chain_ok)
        period_check(start, end)
        register = SpooledRegister(start=start, end=end)
        try:
            (write_register_csv if fmt == "csv" else write_register_xlsx)(register, out)
        finally:
            register.close()
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return RegisterFile(f"invoice-register-{period}.{fmt}", out, CONTENT_TYPES[fmt], register.count)


def invoice_register_export(
    *, start: date, end: date, fmt: str, actor=None, ip_address=None, via: str = ""
) -> RegisterFile:
    """:func:`register_file`, audited (``sales.register.exported``): the register holds the
    customers' names and tax ids."""
    exported = register_file(start=start, end=end, fmt=fmt)
    audit_log(
        action="sales.register.exported", actor=actor, ip_address=ip_address,
        detail={"start": start.isoformat(), "end": end.isoformat(), "format": fmt, "rows": exported.rows, "via": via},
    )  # fmt: skip
    return exported


# --- Monthly e-mail to the admins ---------------------------------------------------------------


def invoice_register_email(*, today: date | None = None) -> int:
    """E-mail last month's register (CSV and XLSX) and Veri*Factu records (JSON) to every active
    ADMIN with an e-mail address, one message each, in the admin's language. Returns how many
    messages were sent; audited once (``sales.register.emailed``)."""
    from django.contrib.auth import get_user_model
    from django.core.mail import EmailMessage
    from django.utils import translation

    start, end = previous_month(today or timezone.localdate())
    admins = get_user_model().objects.active_admins().exclude(email="").order_by("pk")
    sent, files = 0, {}  # the files once per language: each JSON checks the whole chain
    for admin in admins:
        language = admin.language or settings.LANGUAGE_CODE
        with translation.override(language):
            subject = _("Register of issued invoices, %(start)s to %(end)s") % {
                "start": formats.date_format(start, "SHORT_DATE_FORMAT"),
                "end": formats.date_format(end, "SHORT_DATE_FORMAT"),
            }
            body = _(
                "Attached: the register of invoices issued by %(salon)s from %(start)s to %(end)s, as CSV and "
                "XLSX, and each invoice's Veri*Factu record as JSON, with the hash chain checked in its header."
            ) % {"salon": settings.SALON_NAME, "start": start.isoformat(), "end": end.isoformat()}
            message = EmailMessage(subject, body, to=[admin.email])
            if language not in files:
                files[language] = [_attachment(register_file(start=start, end=end, fmt=fmt)) for fmt in FORMATS]
            for attachment in files[language]:
                message.attach(*attachment)
        message.send()
        sent += 1
    audit_log(
        action="sales.register.emailed",
        detail={"start": start.isoformat(), "end": end.isoformat(), "recipients": sent},
    )
    return sent


def _attachment(exported: RegisterFile) -> tuple[str, bytes, str]:
    try:
        return exported.name, exported.content, exported.content_type
    finally:
        exported.close()
