"""Large imports and exports, run by a Celery worker with progress the admin can poll.

``job_import_create`` stores the uploaded file and queues a dry run; ``job_confirm`` queues the
real import of a file whose dry run found no invalid row; ``job_export_create`` queues an export
written to a file. ``job_run`` (called by the task) does either. Progress goes to the cache
(``CACHE_URL``: Redis in production, shared by every web node; a directory under ``var/`` on one
machine), not to the database: an import runs inside one transaction, and its progress must be
visible to the web process while that transaction is still open.
"""

import csv
import hashlib
import io
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from django.core.cache import cache
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from import_export.results import Result

from audit.models import Outcome
from audit.services import audit_log
from beils.lib.errors import DomainError
from beils.lib.formats import FORMATS
from beils.lib.spreadsheets import escape_formula
from beils.lib.streaming import csv_chunks, json_chunks
from maintenance.pulse import Pulse
from transfer.models import Job, JobKind, JobState

EXPORT_CHUNK = 2000


class JobError(DomainError):
    """A job that cannot be started or confirmed as asked."""


def _format(title: str):
    for cls in FORMATS:
        if cls().get_title() == title:
            return cls()
    raise JobError(_("Unknown file format %(format)s.") % {"format": repr(title)})


def _resource_path(resource_class) -> str:
    return f"{resource_class.__module__}.{resource_class.__qualname__}"


def _queue(job: Job) -> None:
    from transfer.tasks import run_job

    transaction.on_commit(lambda: run_job.delay(job.pk))


@transaction.atomic
def job_import_create(*, resource_class, file_format: str, upload, actor, ip_address=None, mapping=None) -> Job:
    """Store ``upload`` and queue its dry run. ``mapping``: the column mapping the file went
    through (already applied to ``upload``), for the audit."""
    job = Job.objects.create(
        kind=JobKind.IMPORT, resource=_resource_path(resource_class), file_format=_format(file_format).get_title(),
        model_label=resource_class._meta.model._meta.label, actor=actor, ip_address=ip_address,
        summary={"mapping": mapping} if mapping else {},
    )  # fmt: skip
    job.input_name = default_storage.save(f"jobs/{job.pk}-{uuid.uuid4().hex}/{upload.name}", upload)
    job.save(update_fields=["input_name"])
    audit_log(
        action="maintenance.import.queued", actor=actor, target=job, ip_address=ip_address,
        detail={"mapping": mapping} if mapping else None,
    )  # fmt: skip
    _queue(job)
    return job


@transaction.atomic
def job_confirm(*, job: Job, actor, ip_address=None) -> Job:
    """Queue the real import of a file whose dry run passed."""
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.kind != JobKind.IMPORT or job.state != JobState.VALIDATED:
        raise JobError(_("Only an import whose dry run found no invalid row can be confirmed."))
    job.state, job.dry_run, job.rows_done, job.error = JobState.QUEUED, False, 0, ""
    job.save(update_fields=["state", "dry_run", "rows_done", "error"])
    audit_log(action="maintenance.import.confirmed", actor=actor, target=job, ip_address=ip_address)
    _queue(job)
    return job


@transaction.atomic
def job_export_create(*, resource_class, file_format: str, pks=None, actor, ip_address=None) -> Job:
    """Queue an export of every row (or of ``pks``) to a file."""
    job = Job.objects.create(
        kind=JobKind.EXPORT, resource=_resource_path(resource_class), file_format=_format(file_format).get_title(),
        model_label=resource_class._meta.model._meta.label, actor=actor, ip_address=ip_address,
        export_pks=list(pks) if pks is not None else None,
    )  # fmt: skip
    _queue(job)
    return job


def job_run(job: Job) -> Job:
    """Run a queued job to its end; failures end in state FAILED with the reason."""
    job.state, job.started_at, job.finished_at = JobState.RUNNING, timezone.now(), None
    job.heartbeat_at = job.started_at
    job.save(update_fields=["state", "started_at", "finished_at", "heartbeat_at"])
    job.pulse = Pulse(job)  # a killed job stops beating: maintenance/reaper.py
    try:
        if job.kind == JobKind.IMPORT:
            _run_import(job)
        else:
            _run_export(job)
    except Exception as exc:
        job.state, job.error = JobState.FAILED, str(exc) or type(exc).__name__
        audit_log(
            action=f"maintenance.{job.kind.lower()}.failed", actor=job.actor, target=job, outcome=Outcome.FAILURE,
            ip_address=job.ip_address, detail={"error": job.error},
        )  # fmt: skip
        if not isinstance(exc, ValueError | JobError):
            raise
    finally:
        job.finished_at = timezone.now()
        job.save()
        _write_progress(job, job.rows_done, job.rows_total)
    return job


# --- imports ----------------------------------------------------------------------------------


def _run_import(job: Job) -> None:
    """The file is read from storage one batch at a time, and the result keeps the totals
    and the failing rows (in a temporary file), not a result per row: memory stays flat
    whatever the file's size."""
    # The column mapping the file went through before it was queued (transfer/import_mapping.py).
    mapping = (job.summary or {}).get("mapping")
    resource = import_string(job.resource)(
        actor=job.actor, ip_address=job.ip_address, invalid_rows_are_errors=False, keep_rows=False,
        mapping_detail=mapping,
    )  # fmt: skip
    resource.progress = lambda done, total: _write_progress(job, done, total)
    with default_storage.open(job.input_name, "rb") as fh:
        # Read as it is imported: CSV, XLSX, a JSON array of objects (beils.lib.formats).
        dataset = _format(job.file_format).open_rows(fh)
        job.input_sha256 = getattr(dataset, "beils_sha256", "")
        job.rows_total = len(dataset)
        result = resource.import_data(dataset, dry_run=job.dry_run, file_name=job.input_name.rsplit("/", 1)[-1])
    job.rows_done = job.rows_total
    job.summary = {
        "totals": {key.lower(): value for key, value in result.totals.items()},
        "errors": [str(e.error) for e in result.base_errors][:20],
        **({"mapping": mapping} if mapping else {}),
    }
    failing = getattr(result, "failing_rows", None)
    try:
        if result.has_errors() or result.has_validation_errors():
            job.state = JobState.INVALID if not result.base_errors else JobState.FAILED
            count = failing.count if failing is not None else len(_failed(result))
            invalid = _("%(count)s row(s) are invalid; nothing was written.") % {"count": count}
            job.error = "; ".join(job.summary["errors"]) or invalid
            content = File(failing.open()) if failing is not None else ContentFile(failing_rows_csv(result))
            job.output_name = default_storage.save(job.input_name.rsplit("/", 1)[0] + "/failing-rows.csv", content)
        else:
            job.state = JobState.VALIDATED if job.dry_run else JobState.DONE
    finally:
        if failing is not None:
            failing.close()


def failed_rows(result: Result) -> list[tuple[int, dict, list[str]]]:
    """(row number, {column: value}, ["Column: message", …]) of every failing row, in file order:
    what the import page and the failing rows file show, with the same numbers."""
    columns = getattr(result, "beils_columns", {})
    failed = []
    for row in result.invalid_rows:
        messages = [
            f"{columns.get(field, field)}: {'; '.join(errors)}" for field, errors in row.field_specific_errors.items()
        ]
        messages += list(row.non_field_specific_errors)
        # The library keeps the values in the order of its preview's columns.
        failed.append((row.number, dict(zip(result.diff_headers, row.values, strict=False)), messages))
    for number, errors in result.row_errors():
        values = dict(errors[0].row or {}) if errors else {}
        failed.append((number, values, [str(e.error) for e in errors]))
    return sorted(failed, key=lambda item: item[0])


def _failed(result: Result) -> list[tuple[int, dict, str]]:
    """(row number, {column: value}, "Column: message; …") of every failing row, in file order."""
    return [(number, values, "; ".join(messages)) for number, values, messages in failed_rows(result)]


def failing_rows_csv(result: Result, *, delimiter: str | None = None) -> bytes:
    """The rows a person must fix, as they were in the file, with the row number (as the import
    page numbers it: 1 is the first row under the headers) and the errors in front: fix them in a
    spreadsheet, then import the whole file again. Written with the uploaded CSV's separator
    (``delimiter``, else the one the import read), so that it opens in the same spreadsheet."""
    headers = getattr(result, "beils_headers", [])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter or getattr(result, "beils_delimiter", None) or ",")
    writer.writerow([_("Row"), _("Errors"), *headers])
    for number, values, message in _failed(result):
        cells = [values.get(header) for header in headers]
        writer.writerow([number, escape_formula(message), *(escape_formula(v) for v in cells)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- exports ----------------------------------------------------------------------------------


def _run_export(job: Job) -> None:
    resource = import_string(job.resource)(actor=job.actor, ip_address=job.ip_address)
    queryset = resource.get_queryset().order_by("pk")
    if job.export_pks is not None:
        queryset = queryset.filter(pk__in=job.export_pks)
    job.rows_total = queryset.count()
    fmt = _format(job.file_format)
    name = f"jobs/{job.pk}-{uuid.uuid4().hex}/{job.model_label.split('.')[-1].lower()}s.{fmt.get_extension()}"
    headers = resource.get_export_headers()
    rows = _export_rows(job, resource, queryset)
    with tempfile.TemporaryFile() as fh:
        size, digest = _WRITERS[job.file_format](fh, headers, rows)
        fh.seek(0)
        job.output_name, job.state = default_storage.save(name, File(fh)), JobState.DONE
    job.summary = {"rows": job.rows_done, "bytes": size, "sha256": digest}
    audit_log(
        action="maintenance.export.done", actor=job.actor, target=job, ip_address=job.ip_address,
        detail={"model": job.model_label, "resource": job.resource, "format": job.file_format, **job.summary},
    )  # fmt: skip


def _export_rows(job: Job, resource, queryset) -> Iterator[list]:
    """Rows in primary-key chunks: memory holds one chunk, whatever the table's size."""
    pks = list(queryset.values_list("pk", flat=True))
    for start in range(0, len(pks), EXPORT_CHUNK):
        chunk = pks[start : start + EXPORT_CHUNK]
        for instance in resource.get_queryset().filter(pk__in=chunk).order_by("pk"):
            yield resource.export_resource(instance)
        job.rows_done = start + len(chunk)
        _write_progress(job, job.rows_done, job.rows_total)


class _Digest:
    """A file wrapper that counts and hashes what is written through it."""

    def __init__(self, fh):
        self.fh, self.size, self.sha = fh, 0, hashlib.sha256()

    def write(self, data):
        data = data.encode("utf-8") if isinstance(data, str) else data
        self.size += len(data)
        self.sha.update(data)
        return self.fh.write(data)


def _streamed(writer):
    """A file writer from one of the streamed exports' chunk writers (beils/lib/streaming.py).
    The resource has already escaped the cells: every column is passed through as it is."""

    def write(fh, headers, rows):
        out = _Digest(fh)
        for chunk in writer(headers, rows, kinds=["plain"] * len(headers)):
            out.write(chunk)
        return out.size, out.sha.hexdigest()

    return write


def _write_xlsx(fh, headers, rows):
    from openpyxl import Workbook

    book = Workbook(write_only=True)  # rows go to a temporary file, not to memory
    sheet = book.create_sheet()
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    out = _Digest(fh)
    out.write(buffer.getvalue())
    return out.size, out.sha.hexdigest()


_WRITERS = {"csv": _streamed(csv_chunks), "json": _streamed(json_chunks), "xlsx": _write_xlsx}


def job_files_delete(job: Job) -> None:
    """Remove a job's uploaded file and result file, and forget its progress (old jobs are rotated)."""
    for name in (job.input_name, job.output_name):
        if name and default_storage.exists(name):
            default_storage.delete(name)
    job_progress_forget(job)


# --- progress ---------------------------------------------------------------------------------

# Longer than any job runs: the entry goes with the job's files, this only bounds a leftover.
PROGRESS_TTL = 24 * 3600


def _progress_key(job: Job) -> str:
    # The creation time too: ids start again in a fresh or restored database, entries must not.
    return f"beils:job-progress:{job.pk}:{job.created_at.timestamp():.6f}"


def _write_progress(job: Job, done: int, total: int) -> None:
    if pulse := getattr(job, "pulse", None):
        pulse()
    entry = {"done": done, "total": total, "state": job.state, "at": timezone.now().timestamp()}
    cache.set(_progress_key(job), entry, PROGRESS_TTL)


def job_progress(job: Job) -> dict:
    """What the admin's progress bar shows: rows done of total, the state, and a percentage."""
    done, total = job.rows_done, job.rows_total
    if job.is_active and (live := cache.get(_progress_key(job))):
        done, total = live["done"], live["total"]
    percent = 100 if job.state in (JobState.DONE, JobState.VALIDATED) else (100 * done // total if total else 0)
    return {"state": job.state, "label": job.get_state_display(), "done": done, "total": total, "percent": percent}


def job_progress_written_at(job: Job):
    """When the job last reported progress (the reaper's second sign of life: on SQLite an
    import's heartbeat waits for its transaction to end, its progress does not), or None."""
    live = cache.get(_progress_key(job))
    return None if live is None else datetime.fromtimestamp(live["at"], tz=UTC)


def job_progress_forget(job: Job) -> bool:
    return cache.delete(_progress_key(job))


def job_files_with_client_data(labels: list[str]) -> list[Job]:
    """Finished jobs of the models ``labels`` (those holding client data) with files left: the
    uploaded file, the failing rows and the export are copies of people's data, so an erasure
    removes them (``crm.erasure.COPIES``); the job records stay. A checked import waiting for its
    confirmation is left alone: staff confirm or discard it."""
    finished = [JobState.DONE, JobState.FAILED, JobState.INVALID]
    return list(Job.objects.filter(model_label__in=labels, state__in=finished).exclude(input_name="", output_name=""))


def job_files_remove(jobs: list[Job]) -> None:
    for job in jobs:
        job_files_delete(job)
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(input_name="", output_name="")
