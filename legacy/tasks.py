"""Celery task: a thin adapter around ``legacy_import``."""

from celery import shared_task

HOUR = 3600


@shared_task(name="legacy.import", ignore_result=True, soft_time_limit=4 * HOUR, time_limit=4 * HOUR + 300)
def run_legacy_import(run_id: int, sealed_password: str | None = None) -> None:
    """Run a queued import. The password arrives sealed (see ``password_seal``) and is never
    stored; a failure is recorded on the run and in the audit trail by the service."""
    from legacy.models import LegacyError, LegacyImportRun, RunState
    from legacy.services import legacy_import, password_unseal

    run = LegacyImportRun.objects.get(pk=run_id)
    password = password_unseal(sealed_password) if sealed_password else None
    try:
        legacy_import(url=run.source, password=password, run=run, actor=run.actor)
    except LegacyError as exc:
        # Refused before it started (unreachable database, a run already going): say so on the run.
        LegacyImportRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(state=RunState.FAILED, error=str(exc))
