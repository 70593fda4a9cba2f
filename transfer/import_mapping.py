"""The admin import's column-mapping step, for a CSV or XLSX file whose headers are not Beils' own.

After the upload, when a header is not one of the list's import columns (a receptionist's
"Nombre;Apellidos;Correo electrónico" rather than Beils' "Name;Surname;Email"), the file is kept
in the media storage under a random token that only this session knows (the next request may be
served by another web node), and the person sees one dropdown per column, prefilled from what
was chosen for the same source before (else guessed from the headers), with the first rows as
Beils will store them. On "Continue" the file is rewritten with Beils' column names and its
values as Beils reads them (dates in ISO, amounts with a point), the stored copy is deleted, and
the import goes on as for any other file: the dry run, the preview, the confirmation, or a
background job for a large file. Beils' own exports and templates never see this step.
"""

import contextlib
import csv
import io
import tempfile
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.services import audit_log
from beils.lib.formats import CSV, XLSX, UnreadableFileError
from beils.lib.net import client_ip
from transfer.mapping import (
    ColumnMappingForm,
    normalised,
    preview,
    read_cell,
    remember_mapping,
    remembered_date_order,
    remembered_mapping,
    resource_targets,
)

#: The session's uploads waiting for their mapping: {token: {name, file_name, format, model, resource, user}}.
SESSION_KEY = "beils_import_mapping"
#: The mapped files waiting for their confirmation: {temporary file name: mapping detail}.
MAPPED_KEY = "beils_mapped_imports"
#: Formats whose columns can be mapped (JSON carries its own keys).
MAPPABLE = {"csv": CSV, "xlsx": XLSX}
PREVIEW_ROWS = 5
#: More columns than this are refused: a page of a thousand dropdowns helps nobody, and its
#: form would pass Django's DATA_UPLOAD_MAX_NUMBER_FIELDS.
MAX_COLUMNS = 200
KEPT = 5


class MappingOptionsForm(forms.Form):
    source = forms.CharField(
        label=_("Source"), max_length=100,
        help_text=_("Where the file comes from (another program, “Excel de recepción”…): its mapping is remembered "
                    "for the next file from there."),
    )  # fmt: skip
    date_order = forms.ChoiceField(
        label=_("Dates are written"),
        choices=[("dmy", _("day/month/year (31/12/2024)")), ("mdy", _("month/day/year (12/31/2024)"))],
        initial="dmy",
    )
    remember = forms.BooleanField(label=_("Remember this mapping for the next file from this source"), required=False)
    #: The source whose remembered mapping the dropdowns show: another one typed in reloads them.
    loaded_source = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)


# --- Before the step: does this file need it? ------------------------------------------------


def file_headers(file_format: str, upload) -> list | None:
    """The header row of an uploaded CSV or XLSX file, or None when it cannot be read (the
    import that follows says what is wrong with it)."""
    reader = MAPPABLE.get(file_format)
    if reader is None:
        return None
    upload.seek(0)
    try:
        if file_format == "xlsx":
            return list(XLSX().open_rows(upload).headers or [])
        head = upload.read(64 * 1024)
        if len(head) == 64 * 1024 and b"\n" in head:
            head = head[: head.rfind(b"\n")]
        text = CSV().decode(head).lstrip("\ufeff")
        return next(csv.reader(io.StringIO(text), delimiter=CSV.sniff_delimiter(text)), [])
    except Exception:  # noqa: BLE001 - unreadable here is unreadable for the import, which explains
        return None
    finally:
        upload.seek(0)


def needs_mapping(resource, headers) -> bool:
    """True when a header is not one of the resource's columns (as its import reads them:
    ``"email"`` and ``" EMAIL"`` are ``"Email"``)."""
    known = set()
    for name, field in resource.fields.items():
        known |= {field.column_name.lower(), name.lower()}
    return bool(headers) and any(str(h or "").lstrip("\ufeff").strip().lower() not in known for h in headers)


def stash_upload(request, *, upload, file_format: str, model_label: str, resource_index: str) -> str:
    """Keep ``upload`` in the media storage for the mapping step; the token that names it."""
    sweep_abandoned()
    token = uuid.uuid4().hex
    upload.seek(0)
    name = default_storage.save(f"import-mapping/{token}/upload.{file_format}", upload)
    entries = dict(request.session.get(SESSION_KEY, {}))
    for old in list(entries)[: max(0, len(entries) - KEPT + 1)]:
        _delete(entries.pop(old)["name"])
    entries[token] = {
        "name": name, "file_name": str(upload.name)[:200], "format": file_format, "model": model_label,
        "resource": resource_index, "user": request.user.pk,
    }  # fmt: skip
    request.session[SESSION_KEY] = entries
    return token


#: An upload whose mapping was never finished is deleted after this long (it may hold personal data).
ABANDONED_AFTER = timedelta(days=1)


def sweep_abandoned(now=None, *, folder: str = "import-mapping") -> int:
    """Delete the uploads left between two steps (under ``folder/<token>/`` in the media
    storage) for longer than :data:`ABANDONED_AFTER` (a person who closed the page); how many.
    Run at each new upload: nothing else needs them."""
    now = now or timezone.now()
    deleted = 0
    try:
        tokens, _files = default_storage.listdir(folder)
    except (OSError, NotImplementedError):
        return 0
    for token in tokens:
        with contextlib.suppress(OSError, NotImplementedError):
            _dirs, names = default_storage.listdir(f"{folder}/{token}")
            for name in names:
                path = f"{folder}/{token}/{name}"
                if now - default_storage.get_modified_time(path) > ABANDONED_AFTER:
                    default_storage.delete(path)
                    deleted += 1
    return deleted


def _delete(name: str) -> None:
    with contextlib.suppress(OSError):
        default_storage.delete(name)


def mapped_import_detail(request) -> dict | None:
    """The mapping of the file being confirmed (``import_file_name`` of the confirm form), if it
    went through the mapping step in this session."""
    name = request.POST.get("import_file_name") if request.method == "POST" else None
    return request.session.get(MAPPED_KEY, {}).get(name) if name else None


def remember_mapped_import(request, tmp_name: str, detail: dict) -> None:
    entries = dict(request.session.get(MAPPED_KEY, {}))
    entries = dict(list(entries.items())[-(KEPT - 1) :]) if entries else {}
    entries[tmp_name] = detail
    request.session[MAPPED_KEY] = entries


# --- The step ---------------------------------------------------------------------------------


class MappingRefused(Exception):
    """The stored file cannot be mapped; the message says why."""


def unique_headers(headers) -> list[str]:
    """The headers as a person reads them, each once: an empty one is "(column 3)", a repeated
    one gets "(2)"."""
    shown: list[str] = []
    for number, header in enumerate(headers, 1):
        text = str(header).lstrip("\ufeff").strip() if header is not None else ""
        text = text or gettext("(column %(number)s)") % {"number": number}
        base, copy = text, 1
        while text in shown:
            copy += 1
            text = f"{base} ({copy})"
        shown.append(text)
    return shown


def _open_stored(entry):
    """The stored file, as ``(headers, rows)``, rows read from a local copy each time."""
    if not default_storage.exists(entry["name"]):
        raise MappingRefused(gettext("The uploaded file is no longer here: upload it again."))
    local = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller's rows object
    with default_storage.open(entry["name"], "rb") as stored:
        while chunk := stored.read(1024 * 1024):
            local.write(chunk)
    local.seek(0)
    try:
        rows = MAPPABLE[entry["format"]]().open_rows(local)
    except UnreadableFileError as error:
        raise MappingRefused(str(error)) from None
    except Exception:  # noqa: BLE001 - any parser failure
        raise MappingRefused(gettext("The file could not be read. Check that it is a CSV or XLSX file.")) from None
    headers = list(rows.headers or [])
    if not headers:
        raise MappingRefused(gettext("The file is empty: it has no header row."))
    if len(headers) > MAX_COLUMNS:
        raise MappingRefused(
            gettext("The file has %(count)s columns; the mapping step takes files of up to %(limit)s columns.")
            % {"count": len(headers), "limit": MAX_COLUMNS}
        )
    return unique_headers(headers), rows


def _first_rows(rows, headers, count=PREVIEW_ROWS):
    first = []
    try:
        for values in rows:
            first.append(dict(zip(headers, values, strict=False)))
            if len(first) >= count:
                break
    except Exception:  # noqa: BLE001, S110 - a malformed row further down: the import reports it
        pass
    return first


def _has_memory(source: str, resource: str) -> bool:
    from transfer.models import SavedMapping

    return SavedMapping.objects.filter(source=normalised(source), resource=resource).exists()


def last_source(user, resource: str) -> str:
    from transfer.models import SavedMapping

    saved = SavedMapping.objects.filter(resource=resource, updated_by=user).order_by("-updated_at").first()
    return saved.source if saved else "generic"


def mapping_step(model_admin, request, token: str):
    """The mapping page (GET, or POST to refresh its preview) and, on "Continue", the import of
    the mapped file. ``model_admin`` is the list's ``ImportExportAdmin``."""
    opts = model_admin.opts
    entry = request.session.get(SESSION_KEY, {}).get(token)
    if not isinstance(entry, dict) or entry.get("model") != opts.label or entry.get("user") != request.user.pk:
        raise PermissionDenied
    import_url = f"admin:{opts.app_label}_{opts.model_name}_import"
    try:
        headers, rows = _open_stored(entry)
    except MappingRefused as refusal:
        _forget(request, token)
        messages.error(request, str(refusal))
        return redirect(import_url)
    resource_class = model_admin.get_import_resource_classes(request)[_resource_index(entry)]
    resource = resource_class(**model_admin.get_import_resource_kwargs(request))
    targets = resource_targets(resource)
    key = opts.model_name
    posted = request.method == "POST"
    source = last_source(request.user, key)
    options = MappingOptionsForm(
        request.POST if posted else None,
        initial={"source": source, "loaded_source": source, "remember": True,
                 "date_order": remembered_date_order(source=source, resource=key)},
    )  # fmt: skip
    data = request.POST if posted else None
    if posted and "_continue" not in request.POST and options.is_valid():
        typed = options.cleaned_data["source"]
        if normalised(typed) != normalised(options.cleaned_data["loaded_source"]) and _has_memory(typed, key):
            # Another source typed in, which Beils knows: its mapping replaces the dropdowns.
            source, data = typed, None
            remembered_order = remembered_date_order(source=typed, resource=key)
            options = MappingOptionsForm(
                {**request.POST.dict(), "loaded_source": typed, "date_order": remembered_order}
            )
            options.is_valid()
    initial = ColumnMappingForm.initial_for(
        headers, remembered_mapping(source=source, resource=key, headers=headers, targets=targets)
    )
    form = ColumnMappingForm(data, headers=headers, targets=targets, initial=initial)
    if posted and "_continue" in request.POST and options.is_valid() and form.is_valid():
        return _continue(model_admin, request, token, entry, rows, headers, form, options, targets)
    if form.is_bound:
        form.is_valid()
        options.is_valid()
        mapping = form.mapping_from({k: request.POST.get(k) for k in form.fields})
        date_order = options.cleaned_data.get("date_order") or "dmy"
    else:
        mapping = form.mapping_from(initial)
        date_order = (
            (options.cleaned_data.get("date_order") if options.is_bound else None)
            or options.initial.get("date_order")
            or "dmy"
        )
    valid = {t.name for t in targets}
    mapping = {h: (name if name in valid else "") for h, name in mapping.items()}
    shown = preview(_first_rows(rows, headers), mapping, targets, date_order=date_order)
    return _page(model_admin, request, entry, form, options, targets, mapping, shown)


def _page(model_admin, request, entry, form, options, targets, mapping, shown):
    labels = {t.name: t.label for t in targets}
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts, "title": _("Match the columns of %(file)s") % {"file": entry["file_name"]},
        "form": form, "options": options, "file_name": entry["file_name"], "preview": shown,
        "targets_chosen": [labels[name] for name in mapping.values() if name],
        "columns": len(form.headers),
    }  # fmt: skip
    return TemplateResponse(request, "admin/beils/import_mapping.html", context)


def _resource_index(entry) -> int:
    try:
        return int(entry.get("resource") or 0)
    except (TypeError, ValueError):
        return 0


def _forget(request, token):
    entries = dict(request.session.get(SESSION_KEY, {}))
    entry = entries.pop(token, None)
    request.session[SESSION_KEY] = entries
    if entry:
        _delete(entry["name"])


def _continue(model_admin, request, token, entry, rows, headers, form, options, targets):
    mapping, source = form.mapping, options.cleaned_data["source"]
    date_order = options.cleaned_data["date_order"]
    try:
        content = mapped_csv(rows, headers, mapping, targets, date_order=date_order, delimiter=_delimiter(rows))
    except Exception:  # noqa: BLE001 - a row the reader cannot split (wider than the headers)
        form.add_error(
            None,
            gettext("A row of the file could not be read: check that every row has as many cells as the header row."),
        )
        return _page(model_admin, request, entry, form, options, targets, mapping, [])
    key = model_admin.opts.model_name
    columns = {h: name for h, name in mapping.items()}
    if options.cleaned_data["remember"]:
        remember_mapping(source=source, resource=key, mapping=mapping, actor=request.user, date_order=date_order)
        audit_log(
            action="transfer.mapping.saved", actor=request.user, ip_address=client_ip(request),
            detail={"model": model_admin.opts.label, "source": normalised(source), "columns": columns,
                    "date_order": date_order},
        )  # fmt: skip
    _forget(request, token)
    name = entry["file_name"].rsplit(".", 1)[0] + ".csv" if entry["format"] != "csv" else entry["file_name"]
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    detail = {"source": normalised(source), "mapping": columns, "date_order": date_order}
    return model_admin.continue_mapped_import(
        request, upload, resource_index=str(_resource_index(entry)), detail=detail
    )


def _delimiter(rows) -> str:
    return getattr(rows, "delimiter", None) or ","


def stored_text(target, value, *, date_order: str) -> str:
    """A cell as the import reads it: ISO dates, amounts with a point; a cell that cannot be read
    is kept as it was, so that the import names it in its row error."""
    try:
        read = read_cell(target, value, date_order=date_order)
    except ValueError:
        return "" if value is None else str(value)
    if read is None:
        return ""
    if isinstance(read, date | datetime):
        return read.isoformat()
    if isinstance(read, Decimal):
        return format(read, "f")
    return str(read)


def mapped_csv(rows, headers, mapping, targets, *, date_order: str = "dmy", delimiter: str = ",") -> bytes:
    """The file again, as a CSV with Beils' column names: mapped columns only, in the file's
    order, each value as :func:`stored_text` writes it."""
    by_name = {t.name: t for t in targets}
    columns = [(i, by_name[mapping[h]]) for i, h in enumerate(headers) if mapping.get(h) in by_name]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow([target.name for _i, target in columns])
    for values in rows:
        cells = [values[i] if i < len(values) else None for i, _target in columns]
        writer.writerow(
            [
                stored_text(target, cell, date_order=date_order)
                for cell, (_i, target) in zip(cells, columns, strict=True)
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
