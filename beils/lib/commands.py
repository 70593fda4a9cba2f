"""The base of Beils' operator commands (backup, restore, archive, cleanup, gdpr_erase…)."""

from django.core.checks import Tags
from django.core.management.base import BaseCommand

#: The web side's system checks: they load the URLconf (every API view and admin screen with
#: them), every template tag library, the admin's import/export buttons and the migration
#: autodetector: about a second of start-up. ``manage.py check``, ``runserver`` and ``migrate``
#: run them; an operator command does not serve a page, and a 3 a.m. backup should neither
#: wait for them nor refuse to run over a template.
WEB_CHECKS = frozenset({Tags.admin, Tags.commands, Tags.staticfiles, Tags.templates, Tags.urls})

#: Every other tag: the settings, caches, models (with the personal-data registry), security.
OPERATOR_CHECKS = sorted(tag for name, tag in vars(Tags).items() if not name.startswith("_") and tag not in WEB_CHECKS)


class OperatorCommand(BaseCommand):
    """A command for operators and cron: runs the system checks but the web side's."""

    requires_system_checks = OPERATOR_CHECKS
