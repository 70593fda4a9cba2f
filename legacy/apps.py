from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LegacyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "legacy"
    verbose_name = _("Legacy import (Beils Dashboard)")

    def ready(self):
        from maintenance.reaper import STALE_WORK_FINDERS

        # A killed legacy import is found by the stale-work check like any other long work.
        if _legacy_imports_reap not in STALE_WORK_FINDERS:
            STALE_WORK_FINDERS.append(_legacy_imports_reap)


def _legacy_imports_reap(silent_since, now) -> list:
    # legacy.services loads the whole importer: imported when the check runs, not at start-up.
    from legacy.services import legacy_imports_reap

    return legacy_imports_reap(silent_since, now)
