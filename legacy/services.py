"""Bringing a salon over from the previous Beils Dashboard database.

``legacy_import`` is the one entry point: the ``import_legacy`` command calls it directly and the
admin queues it as a Celery task (``legacy_import_queue``). Each old table is read in batches,
each batch written in a transaction of its own, and the run records which tables are done: an
interrupted run is resumed by the next one, which skips them. Old ids are kept in LegacyKey, so
running again updates rather than duplicates. A dry run writes nothing at all.
"""

import base64
import hashlib
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Outcome
from audit.services import audit_log
from crm.erasure import erasure_replay
from legacy.importer import Importer
from legacy.models import LegacyError, LegacyImportRun, RunState
from legacy.reconcile import reconcile
from legacy.source import BATCH, LegacySource, source_config
from maintenance.reaper import run_reap

#: A RUNNING run silent for this long was interrupted (a killed worker), not still going.
STALE_AFTER = timedelta(minutes=10)


class _DryRunRollback(Exception):
    pass


def legacy_import(
    *,
    url: str | None = None,
    defaults_file: str | None = None,
    password: str | None = None,
    dry_run: bool = False,
    actor=None,
    run: LegacyImportRun | None = None,
    batch_size: int = BATCH,
) -> dict:
    """Import everything from the old database and return the reconciliation report (a dict:
    ``counts`` per entity, ``problems``, ``checks`` with ``reconciled``, future bookings,
    likely duplicate clients, the password step of every staff account).

    Raises LegacyError when the source cannot be read or another run is going; any other
    failure marks the run FAILED (resumable) and is re-raised."""
    config = source_config(url, defaults_file=defaults_file, password=password)
    try:
        source = LegacySource(config)
    except LegacyError as exc:
        if not dry_run:
            audit_log(action="legacy.import.failed", actor=actor or (run.actor if run else None), target=run,
                      outcome=Outcome.FAILURE, detail={"source": config.public_url, "error": str(exc)})  # fmt: skip
        raise
    try:
        if dry_run:
            return _dry_run(source, batch_size=batch_size)
        return _real_run(source, run=run, actor=actor, batch_size=batch_size)
    finally:
        source.close()


def _dry_run(source: LegacySource, *, batch_size: int) -> dict:
    started = time.perf_counter()
    report = {}
    try:
        with transaction.atomic():
            importer = Importer(source, batch_size=batch_size)
            importer.import_all()
            report = _report(source, importer, started, dry_run=True)
            raise _DryRunRollback
    except _DryRunRollback:
        pass
    return report


def _real_run(source: LegacySource, *, run, actor, batch_size: int) -> dict:
    started = time.perf_counter()
    run = run or LegacyImportRun.objects.create(source=source.config.public_url, actor=actor)
    try:
        previous = _previous_unfinished(run)
    except LegacyError as exc:
        run.state, run.error, run.finished_at = RunState.FAILED, str(exc), timezone.now()
        run.save()
        raise
    skip = list(previous.entities_done) if previous else []
    importer = Importer(source, run=run, batch_size=batch_size)
    run.state, run.started_at, run.finished_at, run.error = RunState.RUNNING, timezone.now(), None, ""
    run.resumed_from, run.entities_done, run.rows_done = previous, skip, 0
    run.source, run.rows_total = source.config.public_url, importer.total_rows()
    run.save()
    try:
        importer.import_all(skip=skip, on_entity_done=lambda entity: _entity_done(run, entity))
        # Sales, bookings and debts of erased clients were updated from the old rows (their
        # notes): the erasures are re-applied, as after a restore, before anyone sees them.
        if importer.erased:
            erasure_replay(actor="legacy import: erasure ledger replay")
        report = _report(source, importer, started, dry_run=False)
    except Exception as exc:
        run.state, run.error = RunState.FAILED, f"{type(exc).__name__}: {exc}"
        run.report = _partial(importer, started)
        run.finished_at = timezone.now()
        run.save()
        audit_log(action="legacy.import.failed", actor=actor or run.actor, target=run, outcome=Outcome.FAILURE,
                  detail={"source": run.source, "error": run.error, "entities_done": run.entities_done})  # fmt: skip
        raise
    run.state = RunState.DONE if report["reconciled"] else RunState.UNRECONCILED
    run.report, run.finished_at, run.current_entity = report, timezone.now(), ""
    run.rows_done = max(run.rows_done, run.rows_total)
    run.save()
    audit_log(
        action="legacy.import.completed", actor=actor or run.actor, target=run,
        outcome=Outcome.SUCCESS if report["reconciled"] else Outcome.FAILURE,
        detail={"source": run.source, "reconciled": report["reconciled"], "resumed": report["resumed"],
                "failed_checks": [c["name"] for c in report["checks"] if not c["ok"]],
                "created": sum(c["created"] for c in report["counts"].values()),
                "legacy_invoice_seal": report["legacy_series"]["seal_sha256"],
                "problems": sum(p["count"] for p in report["problems"] if p["level"] == "warning")},
    )  # fmt: skip
    report["run"] = run.pk
    return report


def _previous_unfinished(run: LegacyImportRun) -> LegacyImportRun | None:
    """The source's latest run before this one, when it did not finish: its done tables are
    skipped. A run still RUNNING and recently heard from is a concurrent import: refused."""
    latest = LegacyImportRun.objects.filter(source=run.source, dry_run=False).exclude(pk=run.pk).order_by("-pk").first()
    if latest is None or latest.state not in (RunState.FAILED, RunState.RUNNING):
        return None
    if latest.state == RunState.RUNNING and latest.updated_at > timezone.now() - STALE_AFTER:
        raise LegacyError(
            _("Import #%(number)s from %(source)s is still running; wait for it to finish.")
            % {"number": latest.pk, "source": latest.source}
        )
    return latest


def _entity_done(run: LegacyImportRun, entity: str) -> None:
    run.entities_done = [*run.entities_done, entity]
    LegacyImportRun.objects.filter(pk=run.pk).update(entities_done=run.entities_done, updated_at=timezone.now())


def _partial(importer: Importer, started: float) -> dict:
    return {"counts": importer.counts_as_dict(), "problems": importer.problems_as_list(),
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip


def _report(source: LegacySource, importer: Importer, started: float, *, dry_run: bool) -> dict:
    return {
        "source": source.config.public_url,
        "dry_run": dry_run,
        "resumed": importer.resumed,
        **_partial(importer, started),
        **reconcile(source),
        "password_steps": importer.password_steps,
        "seconds": round(time.perf_counter() - started, 2),
    }


# --- From the admin: a background job -------------------------------------------------------


def _fernet():
    from cryptography.fernet import Fernet

    key = hashlib.sha256(f"legacy-import:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def password_seal(password: str) -> str:
    """The password as it travels to the worker: encrypted with a key derived from SECRET_KEY,
    so the broker's copy of the task message does not hold it in clear. It is never saved."""
    return _fernet().encrypt(password.encode()).decode()


def password_unseal(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()


@transaction.atomic
def legacy_import_queue(*, url: str, password: str | None = None, actor=None) -> LegacyImportRun:
    """Record a run and queue it for a Celery worker; the admin follows its progress."""
    from legacy.tasks import run_legacy_import

    config = source_config(url, password=password)
    run = LegacyImportRun.objects.create(source=config.public_url, actor=actor)
    sealed = password_seal(config.password) if config.password else None
    audit_log(action="legacy.import.queued", actor=actor, target=run, detail={"source": run.source})
    transaction.on_commit(lambda: run_legacy_import.delay(run.pk, sealed))
    return run


def legacy_run_progress(run: LegacyImportRun) -> dict:
    """What the admin's progress bar shows."""
    return {"state": run.state, "label": run.get_state_display(), "done": run.rows_done, "total": run.rows_total,
            "percent": run.percent, "entity": run.current_entity}  # fmt: skip


def legacy_imports_reap(silent_since, now) -> list:
    """The stale-work check's part for legacy imports (registered in LegacyConfig.ready()). A
    legacy import saves its row (``updated_at``) as it progresses: that is its sign of life.
    Marked FAILED, it is resumed by the next import of the same source, as after any failure."""
    reaped = []
    for run in LegacyImportRun.objects.filter(state=RunState.RUNNING, updated_at__lt=silent_since):
        run.heartbeat_at = run.updated_at  # for run_reap's reason
        if run_reap(run, now, running={"state": RunState.RUNNING}, failed={"state": RunState.FAILED},
                    error_field="error", action="legacy.import.reaped"):  # fmt: skip
            reaped.append(run)
    return reaped
