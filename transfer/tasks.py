"""Celery task of import and export: a thin adapter around ``transfer.jobs.job_run``. Its name
keeps the ``maintenance.`` prefix it had, so queued messages, schedules and the task-run records
(``maintenance.monitoring``) still find it."""

from celery import shared_task

from transfer.jobs import job_run
from transfer.models import Job

HOUR = 3600


@shared_task(name="maintenance.run_job", ignore_result=True, soft_time_limit=2 * HOUR, time_limit=2 * HOUR + 300)
def run_job(job_id: int) -> None:
    """A large import (dry run or confirmed) or export started from the admin."""
    job_run(Job.objects.get(pk=job_id))
