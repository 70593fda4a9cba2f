"""Small helpers shared by the admin tests."""

import functools
import socket

from django.db import connection
from django.urls import reverse

TIME_ZONE_TABLES_MISSING = (
    "MariaDB has no time zone tables (CONVERT_TZ returns NULL): Django's date_hierarchy and __date "
    "lookups on DateTimeFields need them with USE_TZ. Load them with "
    "`mariadb-tzinfo-to-sql /usr/share/zoneinfo | mariadb -u root mysql`."
)


@functools.cache
def database_converts_time_zones() -> bool:
    """True unless the server is MySQL/MariaDB without time zone tables.

    Asked on a connection of its own, so that it can be evaluated in an ``xfail`` condition,
    before pytest-django allows database access.
    """
    if connection.vendor != "mysql":
        return True
    import MySQLdb

    params = {**connection.get_connection_params()}
    params.pop("database", None)  # the test database may not exist yet; the server is enough
    server = MySQLdb.connect(**params)
    try:
        cursor = server.cursor()
        cursor.execute("SELECT CONVERT_TZ('2000-01-01 12:00:00', 'UTC', 'Europe/Madrid')")
        return cursor.fetchone()[0] is not None
    finally:
        server.close()


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def inline_management_data(response) -> dict:
    """Empty management-form data for every inline of an admin add/change page."""
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


def changelist_rows(response) -> list:
    return list(response.context["cl"].result_list)


def issue_token(user) -> str:
    """A new API token's secret for ``user``, even a switched-off one (to prove it is refused).

    Straight from the model, not ``api_token_issue``: the service refuses deactivated accounts
    and audits, which would add entries to tests about something else."""
    from crm.models import ApiToken

    return ApiToken.objects.create(user=user)[1]


def api_as(user):
    """A DRF test client authenticated as ``user`` with a Bearer token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user)}")
    return client


def bomb_xlsx(rows: int, *, declared_size: int | None = None) -> bytes:
    """A real XLSX whose one sheet holds ``rows`` identical rows under an "Email, Name"
    header: a few hundred KB that expand to ~90 bytes a row (a "decompression bomb").

    ``declared_size``: the uncompressed size the zip archive states for the sheet instead of the
    true one (a lying archive)."""
    import io
    import zipfile

    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    cell = '<c t="inlineStr"><is><t>{}</t></is></c>'
    head = f"<row>{cell.format('Email')}{cell.format('Name')}</row>"
    body = f"<row>{cell.format('x')}{cell.format('y')}</row>".encode() * rows
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
            '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
            'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{rel}"><sheets><sheet name="S" '
            'sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>'
        ),
    }
    sheet = f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><sheetData>{head}'.encode()
    sheet += body + b"</sheetData></worksheet>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    raw = out.getvalue()
    if declared_size is not None:
        raw = _declare_size(raw, "xl/worksheets/sheet1.xml", len(sheet), declared_size)
    return raw


def _declare_size(raw: bytes, name: str, true_size: int, declared: int) -> bytes:
    # The uncompressed size sits in the local header (offset 22) and the central directory
    # entry (offset 24) of each member.
    import struct

    encoded = name.encode()
    true, fake = struct.pack("<I", true_size), struct.pack("<I", declared)
    out = bytearray(raw)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := out.find(signature, start)) != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if out[name_at : name_at + len(encoded)] == encoded and out[start + offset : start + offset + 4] == true:
                out[start + offset : start + offset + 4] = fake
            start += 4
    return bytes(out)


def free_port() -> int:
    """A port nothing listens on (until someone binds it): also how a test gets a closed port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
