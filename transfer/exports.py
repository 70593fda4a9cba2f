"""Streaming exports of any queryset, audited with their row count and checksum."""

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Outcome
from audit.services import audit_log
from beils.lib.errors import DomainError
from beils.lib.streaming import FORMATS, column_kinds, csv_rows, stream_rows


class ExportError(DomainError):
    """An export that cannot be made as asked (unknown format or column)."""


def default_columns(model) -> dict[str, str]:
    """Header → lookup for every concrete field (foreign keys as their id)."""
    return {
        f.attname if f.is_relation else f.name: f.attname for f in model._meta.concrete_fields if f.name != "password"
    }


@dataclass
class _Counted:
    rows: Iterable[tuple]
    count: int = 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row


def export_stream(
    queryset: QuerySet, *, fmt: str, columns: dict[str, str] | None = None, actor=None, ip_address: str | None = None
) -> StreamingHttpResponse:
    """A streaming download of ``queryset``; the audit entry is written when the last byte is
    sent (or the download is abandoned), with rows, bytes and the file's SHA-256."""
    if fmt not in FORMATS:
        raise ExportError(
            _("Unknown format %(format)s: use one of %(formats)s.")
            % {"format": repr(fmt), "formats": ", ".join(FORMATS)}
        )
    columns = columns or default_columns(queryset.model)
    content_type, extension, writer = FORMATS[fmt]
    headers, lookups = list(columns), list(columns.values())
    kinds = column_kinds(queryset.model, lookups)
    if fmt == "csv":
        rows, kinds = csv_rows(queryset, lookups, kinds)
    else:
        rows = stream_rows(queryset, lookups)
    rows = _Counted(rows)
    chunks = writer(headers, rows, kinds=kinds)
    label = queryset.model._meta.label
    name = f"{queryset.model._meta.model_name}s_{timezone.localtime():%Y%m%d_%H%M%S}.{extension}"
    response = StreamingHttpResponse(_audited(chunks, rows, label, fmt, actor, ip_address), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _audited(chunks: Iterator[bytes], rows: _Counted, label, fmt, actor, ip_address) -> Iterator[bytes]:
    digest, size, finished = hashlib.sha256(), 0, False
    try:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        finished = True
    finally:
        chunks.close()  # releases the server-side cursor before the connection is used again
        audit_log(
            action="maintenance.export.done" if finished else "maintenance.export.aborted", actor=actor,
            outcome=Outcome.SUCCESS if finished else Outcome.FAILURE, ip_address=ip_address,
            detail={"model": label, "format": fmt, "rows": rows.count, "bytes": size, "sha256": digest.hexdigest()},
        )  # fmt: skip
