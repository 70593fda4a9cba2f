"""Production gaps that settings alone cannot refuse, reported by ``manage.py check --deploy``."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_production_services(app_configs, **kwargs):
    problems = []
    if settings.CELERY_BROKER_EMBEDDED:
        problems.append(
            Error(
                "Celery uses the embedded filesystem broker.",
                hint="Set CELERY_BROKER_URL to a Redis URL, e.g. redis://127.0.0.1:6379/0.",
                id="beils.E001",
            )
        )
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        problems.append(
            Warning(
                "The database is SQLite, meant for demos and development.",
                hint="Set DATABASE_URL to MariaDB, e.g. mysql://beils:secret@127.0.0.1:3306/beils.",
                id="beils.W002",
            )
        )
    return problems
