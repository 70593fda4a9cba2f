"""Import and export jobs leave maintenance's state for the ``transfer`` app (transfer 0001);
their table stays where it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("maintenance", "0013_audit_moves_to_its_app"),
        ("transfer", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Job")],
            database_operations=[],
        ),
    ]
