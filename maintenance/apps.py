from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    verbose_name = "Data maintenance"

    def ready(self):
        post_migrate.connect(_sync_schedules, sender=self, dispatch_uid="maintenance.sync_schedules")
        post_migrate.connect(_audit_chain_head, sender=self, dispatch_uid="maintenance.audit_chain_head")
        from maintenance import monitoring

        monitoring.connect()


def _sync_schedules(using, plan=None, **kwargs):
    from django.db import connections

    tables = connections[using].introspection.table_names()
    # Only once the tables exist (not on a partial migrate).
    if "django_celery_beat_periodictask" in tables:
        from maintenance.schedules import sync_schedules

        sync_schedules(using=using)


def _audit_chain_head(using, **kwargs):
    """The audit chain's head row exists whenever the schema does, also after ``flush``: created on
    first use instead, by two appends at once, their locks could deadlock (one append lost)."""
    from django.db import connections

    from maintenance.models import AuditChainHead

    if AuditChainHead._meta.db_table in connections[using].introspection.table_names():
        AuditChainHead.objects.using(using).bulk_create([AuditChainHead(pk=AuditChainHead.ROW)], ignore_conflicts=True)
