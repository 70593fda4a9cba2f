import pytest
from django.db.migrations.recorder import MigrationRecorder


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
