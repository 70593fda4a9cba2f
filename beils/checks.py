"""Production gaps that settings alone cannot refuse, reported by ``manage.py check --deploy``."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import connections
from django.utils.translation import gettext as _


@register(Tags.security, deploy=True)
def check_production_services(app_configs, **kwargs):
    problems = []
    if settings.CELERY_BROKER_EMBEDDED:
        problems.append(
            Error(
                _("Celery uses the embedded filesystem broker."),
                hint=_("Set CELERY_BROKER_URL to a Redis URL, e.g. redis://127.0.0.1:6379/0."),
                id="beils.E001",
            )
        )
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        problems.append(
            Warning(
                _("The database is SQLite, meant for demos and development."),
                hint=_("Set DATABASE_URL to MariaDB, e.g. mysql://beils:secret@127.0.0.1:3306/beils."),
                id="beils.W002",
            )
        )
    return problems


@register(Tags.database)
def check_time_zone_tables(app_configs, databases=None, **kwargs):
    """With USE_TZ, MariaDB needs its time-zone tables for date drill-downs and date lookups."""
    problems = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "mysql":
            continue
        with connection.cursor() as cursor:
            cursor.execute("SELECT CONVERT_TZ('2000-01-01 12:00:00', 'UTC', 'Europe/Madrid')")
            if cursor.fetchone()[0] is None:
                problems.append(
                    Error(
                        _("MariaDB has no time-zone tables: admin date filters and reports by day will fail."),
                        hint=_("Load them once: mariadb-tzinfo-to-sql /usr/share/zoneinfo | mariadb -u root mysql"),
                        id="beils.E002",
                    )
                )
    return problems
