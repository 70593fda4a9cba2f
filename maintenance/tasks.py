from celery import shared_task

from maintenance.models import Heartbeat


@shared_task(name="maintenance.heartbeat", ignore_result=True, soft_time_limit=50, time_limit=60)
def heartbeat() -> None:
    """Sent by beat and run by a worker: a fresh row proves both are alive."""
    Heartbeat.beat("celery")
