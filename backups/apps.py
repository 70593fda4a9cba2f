from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackupsConfig(AppConfig):
    """Backups, restores, their verification and drills, off-site copies and pruning, on the
    database engines Beils runs on."""

    name = "backups"
    verbose_name = _("Backups")
