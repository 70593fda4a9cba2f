"""The cast: one person per role, and a logged-in browser for each.

Everyone is created through ``User.objects.create_user`` so that ``User.save()`` puts them in
their role's group, exactly as in production; nobody is a superuser, so every permission an
assertion relies on comes from ``crm/roles.py``.
"""

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client as Browser
from django.utils import translation

from beils.lib.models import Status
from crm.models import Role, User
from tests.factories import PASSWORD
from tests.helpers import TIME_ZONE_TABLES_MISSING, database_converts_time_zones


def _person(email, name, role, **extra):
    return User.objects.create_user(email=email, password=PASSWORD, name=name, role=role, **extra)


@pytest.fixture(scope="session", autouse=True)
def _database_server_is_set_up():
    if not database_converts_time_zones():
        pytest.exit(TIME_ZONE_TABLES_MISSING, returncode=2)


@pytest.fixture(autouse=True)
def _private_backup_dir(settings, tmp_path):
    """Every test writes its backups, its uploaded files and its GDPR erasure ledger (the file,
    and the shared copy in the default storage) into directories of its own."""
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.ERASURE_LEDGER_PATH = tmp_path / "backups" / "erasure-ledger.jsonl"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A request activates its user's language in this thread (crm.middleware), and nothing
    switches it back between test-client requests: each test starts from the settings' language."""
    yield
    translation.deactivate()


@pytest.fixture
def admin_user(db):
    """Alba, who owns the salon: role ADMIN (not a Django superuser)."""
    return _person("alba@salon.example", "Alba", Role.ADMIN)


@pytest.fixture
def manager_user(db):
    """Marta, who runs the salon day to day: role MANAGER."""
    return _person("marta@salon.example", "Marta", Role.MANAGER)


@pytest.fixture
def staff_user(db):
    """Sara, a beautician: role STAFF."""
    return _person("sara@salon.example", "Sara", Role.STAFF)


@pytest.fixture
def outsider(db):
    """Omar, who left the salon: his account is switched off (status OFF)."""
    return _person("omar@salon.example", "Omar", Role.STAFF, status=Status.OFF)


def _browser_for(user):
    browser = Browser()
    assert browser.login(email=user.email, password=PASSWORD), f"{user.email} could not log in"
    return browser


@pytest.fixture
def admin_browser(admin_user):
    return _browser_for(admin_user)


@pytest.fixture
def manager_browser(manager_user):
    return _browser_for(manager_user)


@pytest.fixture
def staff_browser(staff_user):
    return _browser_for(staff_user)


@pytest.fixture
def anonymous_browser():
    return Browser()


@pytest.fixture
def on_mariadb():
    return connection.vendor == "mysql"


@pytest.fixture
def installed():
    """Sets when the installation was created (its first migration); put back afterwards, since
    the migrations table outlives each test."""
    migrations = MigrationRecorder.Migration.objects
    before = dict(migrations.values_list("pk", "applied"))

    def at(when):
        migrations.update(applied=when)

    yield at
    for pk, applied in before.items():
        migrations.filter(pk=pk).update(applied=applied)
