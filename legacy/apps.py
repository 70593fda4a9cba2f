from django.apps import AppConfig


class LegacyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "legacy"
    verbose_name = "Legacy import (Beils Dashboard)"

    def ready(self):
        from legacy.services import legacy_imports_reap
        from maintenance.reaper import STALE_WORK_FINDERS

        # A killed legacy import is found by the stale-work check like any other long work.
        if legacy_imports_reap not in STALE_WORK_FINDERS:
            STALE_WORK_FINDERS.append(legacy_imports_reap)
