"""Backups and restore drills leave maintenance's state for the ``backups`` app (backups 0001);
their tables stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("maintenance", "0015_purge_trash_permission"),
        ("backups", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="RestoreDrill"),
                migrations.DeleteModel(name="Backup"),
            ],
            database_operations=[],
        ),
    ]
