"""Files Beils writes under var/ are private to its account (docs/security.md)."""

import os
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.django_db(transaction=True)
def test_the_embedded_sqlite_database_is_made_private_when_it_is_opened():
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite engine")
    path = connection.settings_dict["NAME"]
    connection.close()
    os.chmod(path, 0o644)  # as SQLite creates it under a 022 umask

    connection.ensure_connection()

    assert mode(path) == 0o600


def test_the_embedded_brokers_folders_are_private():
    if not settings.CELERY_BROKER_EMBEDDED:
        pytest.skip("a broker server is configured")
    celery = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]).parent
    assert {mode(celery), mode(celery / "queue"), mode(celery / "control")} == {0o700}
