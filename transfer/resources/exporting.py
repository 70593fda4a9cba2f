"""Exports of a resource: every cell escaped against spreadsheet formulas, the columns it can
stream straight from the database, and an audit entry when the file's bytes exist."""

import getpass
import hashlib

import tablib
from import_export import widgets

from audit.models import Outcome
from audit.services import audit_log
from beils.lib.spreadsheets import escape_formula
from transfer.resources.fields import NaturalKeyWidget


def _cli_actor() -> str:
    try:
        return f"command line ({getpass.getuser()})"
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "command line"


class ExportedDataset(tablib.Dataset):
    """The dataset a :class:`BeilsResource` exports. Producing its file (``export('csv')``, which
    is what every import-export format and ``manage.py export`` call) records the audit entry,
    because only then do the bytes, and so their SHA-256, exist."""

    beils_audit: dict

    def export(self, format, **kwargs):
        output = super().export(format, **kwargs)
        audit = getattr(self, "beils_audit", None)
        if audit is not None:
            raw = output.encode("utf-8") if isinstance(output, str) else bytes(output)
            _audit(
                action="maintenance.export.done",
                actor=audit["actor"],
                ip_address=audit["ip_address"],
                detail={
                    "model": audit["model"],
                    "resource": audit["resource"],
                    "rows": len(self),
                    "format": format,
                    "bytes": len(raw),
                    "sha256": hashlib.sha256(raw).hexdigest(),
                },
            )
        return output


def _audit(**kwargs):
    kwargs.setdefault("outcome", Outcome.SUCCESS)
    return audit_log(**kwargs)


class ExportingMixin:
    """The export half of :class:`transfer.resources.base.BeilsResource`."""

    def export_field(self, field, instance, **kwargs):
        return escape_formula(super().export_field(field, instance, **kwargs))

    def export(self, queryset=None, **kwargs):
        dataset = super().export(queryset, **kwargs)
        # Same rows, a class whose export() audits: no copy of a possibly large table.
        dataset.__class__ = ExportedDataset
        dataset.beils_audit = {
            "actor": self.actor or _cli_actor(),
            "ip_address": self.ip_address,
            "model": self._meta.model._meta.label,
            "resource": f"{type(self).__module__}.{type(self).__qualname__}",
        }
        return dataset

    def streaming_columns(self, selected_fields=None) -> dict[str, str] | None:
        """Header → ORM lookup for every exported column, so that the export can stream straight
        from the database (``transfer.exports.export_stream``); None when a column needs
        Python (a many-to-many list, a computed value) and the export must go row by row."""
        columns = {}
        for field in self.get_export_fields(selected_fields):
            widget, attribute = field.widget, field.attribute
            if not attribute or "__" in attribute or getattr(self, f"dehydrate_{field.column_name}", None):
                return None
            if isinstance(widget, widgets.ManyToManyWidget):
                return None
            if isinstance(widget, NaturalKeyWidget):
                lookup = f"{attribute}_id" if widget.field == "pk" else f"{attribute}__{widget.field}"
            elif isinstance(widget, widgets.ForeignKeyWidget):
                return None
            else:
                lookup = attribute
            columns[field.column_name] = lookup
        return columns
