"""Create the Admin, Manager and Staff groups with the permissions of crm/roles.py.

Later migrations that add models are covered by the post_migrate hook in crm/apps.py, which
runs the same synchronisation after every ``migrate``.
"""

from django.db import migrations


def create_role_groups(apps, schema_editor):
    from crm.roles import create_all_permissions, sync_role_groups

    create_all_permissions(apps=apps, using=schema_editor.connection.alias)
    sync_role_groups(apps=apps, using=schema_editor.connection.alias)


def remove_role_groups(apps, schema_editor):
    from crm.roles import GROUP_NAMES

    apps.get_model("auth", "Group").objects.filter(name__in=GROUP_NAMES.values()).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("contenttypes", "__latest__"),
        ("catalog", "0001_initial"),
        ("marketing", "0002_initial"),
        ("sales", "0001_initial"),
        ("bookings", "0003_initial"),
        ("maintenance", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_role_groups, remove_role_groups)]
