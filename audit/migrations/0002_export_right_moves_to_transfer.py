# The right to export moved to transfer.Job (transfer 0001): only the model state changes.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='auditentry',
            options={'ordering': ['-created_at'], 'verbose_name': 'audit entry', 'verbose_name_plural': 'audit trail'},
        ),
    ]
