from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    verbose_name = "Data maintenance"

    def ready(self):
        post_migrate.connect(_sync_schedules, sender=self, dispatch_uid="maintenance.sync_schedules")


def _sync_schedules(using, plan=None, **kwargs):
    from django.db import connections

    # Only once django-celery-beat's tables exist (not on a partial migrate).
    if "django_celery_beat_periodictask" in connections[using].introspection.table_names():
        from maintenance.schedules import sync_schedules

        sync_schedules(using=using)
