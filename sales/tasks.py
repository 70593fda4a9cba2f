"""The sales app's background jobs (scheduled in maintenance/schedules.py)."""

from celery import shared_task

from sales.register import invoice_register_email


@shared_task(name="sales.email_invoice_register", ignore_result=True, soft_time_limit=30 * 60, time_limit=31 * 60)
def email_invoice_register() -> int:
    """Last month's register of issued invoices to every active ADMIN (the 1st of the month).
    Beat runs it only while its periodic task is enabled: off by default, switched on by
    ``INVOICE_REGISTER_EMAIL`` or in the admin (Periodic tasks)."""
    return invoice_register_email()
