"""Long maintenance operations started from the dashboard (backup, restore drill, archive,
optimise): queued for a Celery worker, with a progress record the page polls.

``operation_start`` records the request (audited) and queues it on commit; ``operation_run``
(the task) calls the one service for the kind and keeps ``percent`` and ``message`` current.
"""

import time
from datetime import timedelta

from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.models import Outcome
from audit.services import audit_log
from backups.models import BackupKind
from beils.lib.errors import DomainError
from maintenance.models import Operation, OperationKind, OperationState
from maintenance.pulse import beating

#: Progress is written at most this often (seconds): the page polls every second.
PROGRESS_EVERY = 0.5
STALE_AFTER = timedelta(hours=5)


class OperationError(DomainError):
    """An operation that cannot be started as asked."""


def _queue(operation: Operation) -> None:
    from maintenance.tasks import run_operation

    transaction.on_commit(lambda: run_operation.delay(operation.pk))


@transaction.atomic
def operation_start(*, kind: str, actor, params: dict | None = None, ip_address: str | None = None) -> Operation:
    """Queue one operation; refuses a second one of the same kind while the first is active."""
    active = Operation.objects.filter(kind=kind, state__in=[OperationState.QUEUED, OperationState.RUNNING])
    # Older than any task's time limit: the worker died or never came; do not block for ever.
    if active.filter(created_at__gte=timezone.now() - STALE_AFTER).exists():
        raise OperationError(
            _("A %(operation)s is already queued or running.") % {"operation": str(OperationKind(kind).label).lower()}
        )
    operation = Operation.objects.create(kind=kind, actor=actor, params=params or {}, message=_("Waiting for a worker"))
    audit_log(action="maintenance.operation.requested", actor=actor, target=operation, ip_address=ip_address,
              detail={"kind": kind, "params": operation.params})  # fmt: skip
    _queue(operation)
    return operation


class _Progress:
    def __init__(self, operation: Operation):
        self.operation, self.last = operation, 0.0

    def __call__(self, percent: int, message: str | None = None, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        self.operation.percent = max(0, min(100, int(percent)))
        fields = ["percent"]
        if message is not None:
            self.operation.message = message[:300]
            fields.append("message")
        Operation.objects.filter(pk=self.operation.pk).update(**{f: getattr(self.operation, f) for f in fields})


def operation_run(operation: Operation) -> Operation:
    """Run a queued operation to its end (state DONE or FAILED, with the reason)."""
    operation.state, operation.percent, operation.heartbeat_at = OperationState.RUNNING, 1, timezone.now()
    operation.save(update_fields=["state", "percent", "heartbeat_at"])
    progress = _Progress(operation)
    try:
        with beating(operation):  # a killed worker stops beating: maintenance/reaper.py
            operation.result, message = _RUNNERS[operation.kind](operation, progress)
    except Exception as exc:
        operation.state, operation.message = OperationState.FAILED, (str(exc) or type(exc).__name__)[:300]
        audit_log(action="maintenance.operation.failed", actor=operation.actor, target=operation,
                  outcome=Outcome.FAILURE, detail={"kind": operation.kind, "error": str(exc)[:2000]})  # fmt: skip
    else:
        operation.state, operation.percent, operation.message = OperationState.DONE, 100, message[:300]
    operation.finished_at = timezone.now()
    operation.save()
    return operation


def _backup(operation: Operation, progress) -> tuple[dict, str]:
    from backups.services import backup_run

    backup = backup_run(kind=BackupKind.MANUAL, actor=operation.actor, progress=progress)
    return {"backup_id": backup.pk, "file": backup.file_name}, _("%(file)s written and verified") % {
        "file": backup.file_name
    }


def _restore_drill(operation: Operation, progress) -> tuple[dict, str]:
    from backups.drill import restore_drill

    drill = restore_drill(actor=operation.actor, progress=lambda p, m: progress(p, m, force=True))
    figures = {"seconds": formats.number_format(drill.seconds, 1), "hours": drill.rto_hours}
    if drill.meets_rto:
        message = _("Restored and verified in %(seconds)s s (within the %(hours)s h objective)") % figures
    else:
        message = _("Restored and verified in %(seconds)s s (OVER the %(hours)s h objective)") % figures
    return {"drill_id": drill.pk, "seconds": drill.seconds}, message


def _archive(dry_run: bool):
    def run(operation: Operation, progress) -> tuple[dict, str]:
        from maintenance.archive import archive_run

        step = _("Applying the retention policies (dry run)") if dry_run else _("Applying the retention policies")
        progress(10, step, force=True)
        lifecycle = archive_run(
            dry_run=dry_run,
            actor=operation.actor,
            progress=lambda percent, message: progress(10 + percent * 85 // 100, message),
        )
        rows = sum(sum(figures.values()) for figures in lifecycle.counts.values())
        if dry_run:
            message = ngettext("Archive would change %(rows)s row", "Archive would change %(rows)s rows", rows)
        else:
            message = ngettext("Archive changed %(rows)s row", "Archive changed %(rows)s rows", rows)
        return {"run_id": lifecycle.pk, "counts": lifecycle.counts}, message % {"rows": formats.number_format(rows)}

    return run


def _optimise(operation: Operation, progress) -> tuple[dict, str]:
    from maintenance.optimise import optimise_run

    results = optimise_run(tables=operation.params.get("tables"), actor=operation.actor, progress=progress)
    if not results:
        return {"results": {}}, _("No table is fragmented enough to need optimising")
    count = len(results)
    return {"results": results}, ngettext("Optimised %(count)s table", "Optimised %(count)s tables", count) % {
        "count": count
    }


_RUNNERS = {
    OperationKind.BACKUP: _backup,
    OperationKind.RESTORE_DRILL: _restore_drill,
    OperationKind.ARCHIVE: _archive(dry_run=False),
    OperationKind.ARCHIVE_DRY_RUN: _archive(dry_run=True),
    OperationKind.OPTIMISE: _optimise,
}
