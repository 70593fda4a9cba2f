"""What every archive and cleanup run shares: one run at a time, a record of what it did, an
audit entry, and an e-mail to the admins when it fails.

    with lifecycle_run(LifecycleKind.ARCHIVE, dry_run=False, actor=user) as run:
        ...
        run.add("sales_cart", "moved", 1000)
"""

import contextlib
from collections.abc import Iterator

from django.core.mail import mail_admins
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import Outcome
from audit.services import audit_log
from backups.locks import single_run_lock
from maintenance.models import LifecycleKind, LifecycleRun
from maintenance.pulse import beating


#: How a long run reports how far it got: ``progress(percent, message)``, percent from 0 to 100.
@contextlib.contextmanager
def lifecycle_run(
    kind: LifecycleKind, *, dry_run: bool, actor=None, detail: dict | None = None
) -> Iterator[LifecycleRun]:
    """Raises ``MaintenanceBusy`` (and records nothing) when another run of ``kind`` holds the lock."""
    with single_run_lock(kind.lower()):
        run = LifecycleRun.objects.create(kind=kind, dry_run=dry_run, actor=actor, detail=detail or {})
        action = f"maintenance.{kind.lower()}"
        try:
            with beating(run):  # a killed run stops beating: maintenance/reaper.py
                yield run
        except BaseException as exc:
            _finish(run, Outcome.FAILURE, error=str(exc) or type(exc).__name__)
            audit_log(action=f"{action}.failed", actor=actor, target=run, outcome=Outcome.FAILURE,
                      detail={"counts": run.counts, "error": run.error[:2000]})  # fmt: skip
            what = {"kind": str(kind.label).lower()}
            started = formats.date_format(timezone.localtime(run.started_at), "SHORT_DATETIME_FORMAT")
            mail_admins(
                _("Beils: the %(kind)s run failed") % what,
                _(
                    "The %(kind)s run started at %(started)s failed:\n\n%(error)s\n\n"
                    "What it had done before failing: %(counts)s\n"
                    "Each batch is its own transaction, so nothing is half-moved; running it again continues."
                )
                % {**what, "started": started, "error": run.error, "counts": run.counts},
                fail_silently=True,
            )
            raise
        _finish(run, Outcome.DRY_RUN if dry_run else Outcome.SUCCESS)
        audit_log(action=f"{action}.done", actor=actor, target=run, outcome=run.outcome,
                  detail={"counts": run.counts, **run.detail})  # fmt: skip


def _finish(run: LifecycleRun, outcome: Outcome, *, error: str = "") -> None:
    run.outcome, run.error, run.finished_at = outcome, error, timezone.now()
    run.save()


#: The keys of ``LifecycleRun.counts`` (kept in English: scripts read them) as people read them.
COUNT_LABELS = {
    "moved": gettext_lazy("moved"),
    "restored": gettext_lazy("restored"),
    "purged": gettext_lazy("purged"),
    "deactivated": gettext_lazy("deactivated"),
    "would deactivate": gettext_lazy("would deactivate"),
    "deleted": gettext_lazy("deleted"),
    "would delete": gettext_lazy("would delete"),
    "removed": gettext_lazy("removed"),
    "nulled": gettext_lazy("reference emptied"),
    "needs a person": gettext_lazy("left for a person to decide"),
    "kept: protected": gettext_lazy("kept: protected"),
    "kept: has invoices": gettext_lazy("kept: has invoices"),
    "forgotten": gettext_lazy("forgotten (erased)"),
    "refused: no longer due": gettext_lazy("refused: no longer due"),
}


def count_label(key: str) -> str:
    """``key`` of a run's counts for a person; a key without a label (a reason naming a model)
    shows as it is."""
    return str(COUNT_LABELS.get(key, key))
