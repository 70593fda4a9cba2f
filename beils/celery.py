"""The one Celery app. Periodic jobs are listed in ``maintenance/schedules.py``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")

app = Celery("beils")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
