"""Reading and validating the files, all of them, before anything is written.

Each file is read with Beils' import readers (:mod:`beils.lib.formats`: CSV with ``;`` or ``,``,
any encoding Excel writes, XLSX checked for size and row limits), recognised as one entity by its
headers (or told), mapped column by column (the profile's names, a remembered mapping, the guess,
``--map`` overrides) and every row parsed as Beils will store it. Every bad cell is one
:class:`RowError` naming the file, the row (as a spreadsheet numbers it: the header is row 1),
the column and what is wrong.
"""

import hashlib
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext as _

from beils.lib.formats import CSV, XLSX, UnreadableFileError
from beils.lib.parsing import blank
from legacy.peers.profiles import Profile
from legacy.peers.targets import ENTITIES, ENTITY_LABELS
from transfer.mapping import IGNORE, Target, guess_mapping, normalised, read_cell, remembered_mapping

#: Words in a file's name that say which entity it holds (English and Spanish).
NAME_HINTS = {
    "clients": ("client", "customer", "cliente"),
    "appointments": ("appointment", "booking", "cita", "reserva"),
    "services": ("service", "servicio", "treatment"),
    "products": ("product", "producto", "stock", "inventory", "inventario"),
    "sales": ("sale", "venta", "transaction", "invoice", "ticket"),
    "payments": ("payment", "pago", "cobro", "tender"),
    "balances": ("gift", "voucher", "balance", "package", "bono", "tarjeta", "course", "membership"),
}
_CENT_OR_FINER = Decimal("0.01")
#: Required columns whose empty cell skips the row (with its reason) rather than refusing the
#: file: a client with no name may still have an e-mail.
CELL_OPTIONAL = {("clients", "name")}
CLIENT_REFS = ("client_key", "client_email", "client_phone", "client_name")


class PeersError(Exception):
    """A refusal before any row is read: an unknown profile, a file that cannot be read, an
    entity that cannot be told, a required field without a column."""


@dataclass
class RowError:
    file: str
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "column": self.column, "reason": self.reason}


@dataclass(slots=True)
class Row:
    number: int
    key: str
    values: dict[str, object]


@dataclass
class ParsedFile:
    name: str
    sha256: str
    entity: str
    headers: list[str]
    mapping: dict[str, str]
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: How many rows the file has, the header apart (read one at a time: only the parsed
    #: values of the mapped columns are kept).
    rows_read: int = 0


def open_table(name: str, content: bytes):
    """(headers, rows, sha256, row count) of a CSV or XLSX file's bytes. ``rows`` gives each row
    as a dict, read from the file as it is iterated: a file's cells are never all in memory at
    once (a 250 000-line export held them all as dicts, about 800 MB)."""
    fh = io.BytesIO(content)
    if not content.strip():
        raise PeersError(_("%(file)s is empty.") % {"file": name})
    is_xlsx = content[:2] == b"PK" or name.lower().endswith((".xlsx", ".xlsm"))
    with _read_as_table(name):
        table = XLSX().open_rows(fh) if is_xlsx else CSV().open_rows(fh)
        headers = [str(h).strip() if h is not None else "" for h in (table.headers or [])]
    if not any(headers):
        raise PeersError(_("%(file)s has no header row.") % {"file": name})

    def rows():
        with _read_as_table(name):
            for row in table:
                yield dict(zip(headers, row, strict=False))

    return headers, rows(), table.beils_sha256, len(table)


@contextmanager
def _read_as_table(name: str):
    """A reader's failure, as the import's refusal of the file."""
    try:
        yield
    except UnreadableFileError as exc:
        raise PeersError(f"{name}: {exc}") from exc
    except PeersError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is "not a table we can read"
        raise PeersError(
            _("%(file)s could not be read as CSV or XLSX (%(error)s).") % {"file": name, "error": type(exc).__name__}
        ) from exc


def missing_fields(entity: str, mapping: dict[str, str], targets: tuple[Target, ...]) -> list[str]:
    """Labels of what the file must have a column for, and has not."""
    chosen = set(mapping.values()) - {IGNORE}
    labels = {t.name: str(t.label) for t in targets}
    missing = [labels[t.name] for t in targets if t.required and t.name not in chosen]
    if entity == "appointments":
        if not chosen & {"start", "date"}:
            missing.append(f"{labels['start']} / {labels['date']}")
        if not chosen & set(CLIENT_REFS):
            missing.append(" / ".join(labels[r] for r in CLIENT_REFS))
    if entity == "sales" and "total" not in chosen and not {"net_total", "tax_amount"} <= chosen:
        missing.append(f"{labels['total']} / {labels['net_total']} + {labels['tax_amount']}")
    if entity == "payments" and not chosen & {"card", "cash", "bizum", "transfer", "other"}:
        missing.append(" / ".join(labels[n] for n in ("card", "cash", "bizum", "transfer", "other")))
    if entity == "balances" and not chosen & {"initial", "balance", "sessions_remaining"}:
        missing.append(f"{labels['balance']} / {labels['sessions_remaining']}")
    return missing


def detect_entity(profile: Profile, name: str, headers: list[str]) -> str | None:
    """The entity whose targets the headers fill best, of those they fill enough; a word in the
    file's name (``clients.csv``, ``citas.xlsx``) decides between equals."""
    stem = Path(name).stem.lower()
    heads = {normalised(h) for h in headers}
    scored = []
    for entity in ENTITIES:
        targets = profile.targets[entity]
        mapping = guess_mapping(headers, targets)
        if missing_fields(entity, mapping, targets) or heads & {normalised(h) for h in profile.entity(entity).not_if}:
            continue
        score = sum(1 for v in mapping.values() if v) + 2 * len(heads & profile.own_columns(entity))
        hinted = any(word in stem for word in NAME_HINTS[entity])
        scored.append((score + (3 if hinted else 0), entity))
    return max(scored)[1] if scored else None


def choose_mapping(profile, entity, headers, *, source: str | None, overrides: dict[str, str]) -> dict[str, str]:
    targets = profile.targets[entity]
    if source:
        mapping = remembered_mapping(source=source, resource=f"peers.{entity}", headers=headers, targets=targets)
    else:
        mapping = guess_mapping(headers, targets)
    ignored = {normalised(c) for c in profile.entity(entity).ignore}
    mapping = {h: (IGNORE if normalised(h) in ignored else n) for h, n in mapping.items()}
    valid = {t.name for t in targets}
    for header, name in overrides.items():
        match = next((h for h in headers if normalised(h) == normalised(header)), None)
        if match is None:
            raise PeersError(
                _("--map names the column “%(column)s”, which the file does not have.") % {"column": header}
            )
        if name and name not in valid:
            raise PeersError(
                _("--map: “%(field)s” is not a field of %(entity)s; fields: %(fields)s.")
                % {"field": name, "entity": ENTITY_LABELS[entity], "fields": ", ".join(sorted(valid))}
            )
        for other, chosen in mapping.items():
            if chosen == name and other != match:
                mapping[other] = IGNORE
        mapping[match] = name
    return mapping


def parse_file(
    profile: Profile,
    name: str,
    content: bytes,
    *,
    entity: str | None = None,
    source: str | None = None,
    overrides: dict[str, str] | None = None,
    mapping: dict[str, str] | None = None,
) -> ParsedFile:
    headers, raw_rows, sha, count = open_table(name, content)
    entity = entity or detect_entity(profile, name, headers)
    if entity is None:
        raise PeersError(
            _("%(file)s: its columns (%(headers)s) are not a %(profile)s export this import knows. "
              "Say which records it holds with --entity, or use the generic profile with --map.")
            % {"file": name, "headers": ", ".join(headers[:12]), "profile": profile.label}
        )  # fmt: skip
    if mapping is None:
        mapping = choose_mapping(profile, entity, headers, source=source, overrides=overrides or {})
    targets = profile.targets[entity]
    missing = missing_fields(entity, mapping, targets)
    if missing:
        raise PeersError(
            _("%(file)s (%(entity)s): no column for the required field(s): %(fields)s. Map them with --map "
              "\"Column=field\".") % {"file": name, "entity": ENTITY_LABELS[entity], "fields": "; ".join(missing)}
        )  # fmt: skip
    parsed = ParsedFile(name=name, sha256=sha, entity=entity, headers=headers, mapping=mapping, rows_read=count)
    by_name = {t.name: t for t in targets}
    for number, raw in enumerate(raw_rows, 2):  # as a spreadsheet numbers them: the header is row 1
        if all(blank(v) for v in raw.values()):
            continue
        values, ok = {}, True
        for header, target_name in mapping.items():
            if not target_name:
                continue
            target = by_name[target_name]
            try:
                values[target_name] = _cell(profile, target, raw.get(header))
            except ValueError as exc:
                parsed.errors.append(RowError(name, number, header, str(exc)))
                ok = False
                continue
            if target.required and values[target_name] is None and (entity, target_name) not in CELL_OPTIONAL:
                parsed.errors.append(RowError(name, number, header, _("This field is required; the cell is empty.")))
                ok = False
        ok = _entity_rules(parsed, entity, number, values, mapping) and ok
        if ok:
            parsed.rows.append(Row(number=number, key=row_key(profile, entity, values, raw, mapping), values=values))
    return parsed


def parse_minutes(value) -> int | None:
    """A duration as exports write it: ``90``, ``1:30``, ``1h 30m``, ``45m``, ``2h``, ``1 h 30 min``."""
    if blank(value):
        return None
    text = str(value).strip().lower().replace(",", ".")
    if re.fullmatch(r"\d+(\.0+)?", text):
        return int(float(text))
    if match := re.fullmatch(r"(\d{1,2}):(\d{2})(:00)?", text):
        return int(match.group(1)) * 60 + int(match.group(2))
    match = re.fullmatch(
        r"(?:(\d+)\s*(?:h|hr|hrs|hours?|horas?))?\s*(?:(\d+)\s*(?:m|min|mins|minutes?|minutos?))?", text
    )
    if match and (match.group(1) or match.group(2)):
        return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
    raise ValueError(_("“%(value)s” is not a duration (minutes, 1:30 or 1h 30m).") % {"value": value})


def _cell(profile: Profile, target: Target, value):
    if isinstance(value, str) and value.strip().lower() in profile.blank_words:
        return None
    if target.kind in ("date", "datetime") and isinstance(value, int | float) and not isinstance(value, bool):
        # An Excel serial day number (Fresha's XLSX export writes birth dates so).
        moment = datetime(1899, 12, 30) + timedelta(days=float(value))
        return moment.date() if target.kind == "date" else moment
    if target.kind == "minutes":
        return parse_minutes(value)
    if target.kind in ("text", "email") and not blank(value) and not isinstance(value, str):
        value = str(value)
    return read_cell(target, value, date_order=profile.date_order, decimal_separator=profile.decimal_separator)


def _header_of(mapping: dict[str, str], target_name: str) -> str:
    return next((h for h, n in mapping.items() if n == target_name), target_name)


def _entity_rules(parsed: ParsedFile, entity: str, number: int, values: dict, mapping: dict) -> bool:
    """What a row needs beyond its cells' types."""
    errors = []
    if entity == "appointments" and values.get("start") is None and values.get("date") is None:
        errors.append(
            (_header_of(mapping, "start" if "start" in values else "date"), _("The appointment has no date."))
        )
    if entity == "sales" and values.get("total") is None:
        if values.get("net_total") is None or values.get("tax_amount") is None:
            errors.append((_header_of(mapping, "total"), _("The sale line has no total.")))
        else:
            values["total"] = values["net_total"] + values["tax_amount"]
            if values.get("tax_rate") is None and values["net_total"]:
                # Square gives the VAT amount only: the rate is what it is of the net, rounded.
                values["tax_rate"] = (100 * values["tax_amount"] / values["net_total"]).quantize(Decimal("1"))
    for field_name in ("total", "price", "cost", "initial", "balance", "discount", "tax_rate"):
        value = values.get(field_name)
        if value is not None and value != value.quantize(_CENT_OR_FINER):
            errors.append((_header_of(mapping, field_name), _("An amount has more than two decimals.")))
    for column, reason in errors:
        parsed.errors.append(RowError(parsed.name, number, column, reason))
    return not errors


def row_key(profile: Profile, entity: str, values: dict, raw: dict, mapping: dict) -> str:
    """The row's stable key: its id in the other system, or a hash of the cells that identify it
    (the profile's ``key_from``, else every mapped cell)."""
    own = profile.entity(entity).key_from
    if not own and not blank(values.get("key")):
        return str(values["key"]).strip()[:80]
    names = own or tuple(sorted(n for n in mapping.values() if n))
    if entity == "sales" and not own:
        names = ("date", "time", *CLIENT_REFS, "invoice_number")
    parts = [f"{n}={raw.get(_header_of(mapping, n)) if n in mapping.values() else ''}" for n in names]
    return "h:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]
