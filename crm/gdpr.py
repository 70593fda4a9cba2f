"""GDPR subject access and portability: everything Beils holds about one client.

The personal-data registry (``crm.personal_data``) says which models hold rows about a client
and how each reaches them; this module only follows it, so a model added to the registry is
exported without a change here. The admin action, the API and ``manage.py gdpr_export`` all call
:func:`client_data_export` or :func:`client_data_zip`.
"""

import csv
import hashlib
import io
import json
import uuid
import zipfile
from datetime import date, datetime, time
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from audit.services import audit_log
from beils.lib.spreadsheets import escape_formula
from crm.models import Client
from crm.personal_data import REGISTRY, Holder, holder_for

SCHEMA = "beils.gdpr-export"
SCHEMA_VERSION = 1
EXPORTED_ACTION = "crm.client.data_exported"


def client_data_export(*, client: Client, actor, ip_address: str | None = None) -> dict:
    """Everything held about ``client`` as one JSON-serialisable document; audited as
    ``crm.client.data_exported`` (ids and counts only)."""
    document = client_data_collect(client=client)
    _audit(document, client=client, actor=actor, ip_address=ip_address, fmt="json")
    return document


def client_data_zip(*, client: Client, actor, ip_address: str | None = None) -> bytes:
    """The export as a ZIP: the JSON document, one CSV per section and ``manifest.json`` with
    the SHA-256 of every other file; audited like :func:`client_data_export`."""
    document = client_data_collect(client=client)
    archive = _zip(document)
    _audit(document, client=client, actor=actor, ip_address=ip_address, fmt="zip")
    return archive


@transaction.atomic
def client_data_collect(*, client: Client) -> dict:
    """The document, unaudited. One transaction, so every section is read from the same
    snapshot (MariaDB's REPEATABLE READ) even while the salon keeps working."""
    rows = client_rows(client=client)
    sections = {holder.section: _section(holder, rows[holder.section]) for holder in REGISTRY}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated_at": timezone.now().isoformat(),
        "client_id": client.pk,
        "counts": {name: len(section["rows"]) for name, section in sections.items()},
        "sections": sections,
    }


# --- Following the registry -----------------------------------------------------------------


def client_rows(*, client: Client) -> dict[str, list[models.Model]]:
    """Every row held about ``client``, by the registry's section, in primary-key order. Erasure
    (``crm.erasure``) works from the same rows, so what it deletes is what an export shows."""
    rows: dict[str, list[models.Model]] = {}
    for holder in REGISTRY:
        rows[holder.section] = list(_rows(holder, client, rows).order_by("pk"))
    return rows


def _rows(holder: Holder, client: Client, found: dict[str, list]) -> models.QuerySet:
    model = holder.get_model()
    condition = Q(pk__in=[])
    for link in holder.links:
        condition |= _condition(link, client, found)
    # The base manager: deactivated rows (an old gift card) are the person's data as well.
    return model._base_manager.filter(condition)


def _condition(link: str, client: Client, found: dict[str, list]) -> Q:
    if link == "target":
        return audit_targets(client, found)
    column, _, label = link.partition(" in ")
    if label:
        other = holder_for(label)
        if other is None or other.section not in found:
            raise ImproperlyConfigured(f"{link!r}: {label} must be registered before the holder that names it.")
        return Q(**{f"{column}__in": [row.pk for row in found[other.section]]})
    return Q(**{link: client.pk})


def audit_targets(client: Client, found: dict[str, list]) -> Q:
    """Entries about the client, or about any live row held about them (a consent signed, a
    sale archived). History tables are never an audit target."""
    condition = Q(target_type=Client._meta.label_lower, target_id=str(client.pk))
    for holder in REGISTRY:
        rows = found.get(holder.section)
        if rows and holder.history_of is None and holder.model != "crm.Client":
            label = holder.get_model()._meta.label_lower
            condition |= Q(target_type=label, target_id__in=[str(row.pk) for row in rows])
    return condition


def _columns(holder: Holder) -> list[models.Field]:
    return [f for f in holder.get_model()._meta.concrete_fields if f.name not in holder.exclude]


def _section(holder: Holder, rows: list[models.Model]) -> dict:
    columns = _columns(holder)
    return {
        "model": holder.get_model()._meta.label_lower,
        "personal_fields": {name: str(level) for name, level in holder.fields.items()},
        "rows": [{f.attname: _plain(f.value_from_object(row)) for f in columns} for row in rows],
    }


def _plain(value):
    """A JSON value: decimals as strings (no float rounding), dates in ISO 8601, files by name."""
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, FieldFile):
        return value.name or None
    return value


# --- The ZIP ---------------------------------------------------------------------------------


def _zip(document: dict) -> bytes:
    client_id = document["client_id"]
    files = {f"client-{client_id}.json": json.dumps(document, indent=2, ensure_ascii=False).encode()}
    for name, section in document["sections"].items():
        files[f"csv/{name}.csv"] = _csv(name, section)
    manifest = {
        "schema": document["schema"],
        "schema_version": document["schema_version"],
        "client_id": client_id,
        "generated_at": document["generated_at"],
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in files.items()
        },
    }
    files["manifest.json"] = json.dumps(manifest, indent=2).encode()
    stamp = datetime.fromisoformat(document["generated_at"]).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _csv(name: str, section: dict) -> bytes:
    holder = next(h for h in REGISTRY if h.section == name)
    header = [f.attname for f in _columns(holder)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in section["rows"]:
        writer.writerow([_cell(row[column]) for column in header])
    # A BOM so that spreadsheet programs read the accents of names as UTF-8.
    return ("\ufeff" + out.getvalue()).encode()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return escape_formula(value)


# --- The audit -------------------------------------------------------------------------------


def _audit(document: dict, *, client: Client, actor, ip_address: str | None, fmt: str) -> None:
    # Ids and counts only: the trail must not become a second copy of the person's data.
    detail = {
        "client_id": client.pk,
        "format": fmt,
        "schema_version": document["schema_version"],
        "counts": {name: count for name, count in document["counts"].items() if count},
    }
    audit_log(action=EXPORTED_ACTION, actor=actor, target=client, detail=detail, ip_address=ip_address)
