from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    verbose_name = _("Data maintenance")

    def ready(self):
        post_migrate.connect(_sync_schedules, sender=self, dispatch_uid="maintenance.sync_schedules")
        from backups.signals import backup_restored
        from crm.erasure import replay_after_restore
        from maintenance import monitoring

        monitoring.connect()
        # A restore brings back the people erased since the backup: erase them again, inside
        # the restore's lock (crm.erasure's ledger).
        backup_restored.connect(replay_after_restore, dispatch_uid="crm.erasure.replay_after_restore")


def _sync_schedules(using, plan=None, **kwargs):
    from django.db import connections

    tables = connections[using].introspection.table_names()
    # Only once the tables exist (not on a partial migrate).
    if "django_celery_beat_periodictask" in tables:
        from maintenance.schedules import sync_schedules

        sync_schedules(using=using)
