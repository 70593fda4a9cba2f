"""The audit trail moves out of ``maintenance`` into its own app, at the ground floor.

No data moves: the tables keep their names (``db_table``), so the models are only taken into this
app's state (and out of maintenance's, in maintenance 0013). The content types move with them, so
the permissions granted on them and the admin's history keep pointing at the same rows.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MODELS = ["auditentry", "auditchainhead", "auditchaingap"]


def move_content_types(apps, schema_editor, source="maintenance", destination="audit"):
    """Re-label the models' content types (and so their permissions) from ``source`` to
    ``destination``; where ``destination`` already has one (created by an earlier ``migrate``
    run), the old one is left to ``remove_stale_contenttypes``."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    taken = set(ContentType.objects.using(db).filter(app_label=destination).values_list("model", flat=True))
    ContentType.objects.using(db).filter(app_label=source, model__in=set(MODELS) - taken).update(app_label=destination)
    RetentionPolicy = apps.get_model("maintenance", "RetentionPolicy")
    RetentionPolicy.objects.using(db).filter(target=f"{source}.AuditEntry").update(target=f"{destination}.AuditEntry")


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, source="audit", destination="maintenance")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
        ("maintenance", "0012_run_heartbeat"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditChainGap',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('first_id', models.BigIntegerField(unique=True, verbose_name='first entry')),
                        ('last_id', models.BigIntegerField(verbose_name='last entry')),
                        ('prev_hash', models.CharField(blank=True, max_length=64, verbose_name='previous hash')),
                        ('last_hash', models.CharField(max_length=64, verbose_name='last hash')),
                        ('entries', models.PositiveIntegerField(verbose_name='entries')),
                        ('rotated_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='rotated')),
                    ],
                    options={
                        'verbose_name': 'rotated stretch of the audit trail',
                        'db_table': 'maintenance_auditchaingap',
                        'ordering': ['first_id'],
                    },
                ),
                migrations.CreateModel(
                    name='AuditChainHead',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('last_id', models.BigIntegerField(blank=True, null=True, verbose_name='newest entry')),
                        ('last_hash', models.CharField(blank=True, default='', max_length=64, verbose_name='newest hash')),
                    ],
                    options={
                        'verbose_name': 'audit chain head',
                        'db_table': 'maintenance_auditchainhead',
                    },
                ),
                migrations.CreateModel(
                    name='AuditEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False, verbose_name='when')),
                        ('actor_label', models.CharField(help_text="Kept when the account is gone; 'system' for scheduled jobs", max_length=255, verbose_name='actor')),
                        ('action', models.CharField(db_index=True, max_length=100, verbose_name='action')),
                        ('target_type', models.CharField(blank=True, max_length=100, null=True, verbose_name='target type')),
                        ('target_id', models.CharField(blank=True, max_length=100, null=True, verbose_name='target id')),
                        ('target_label', models.CharField(blank=True, max_length=255, null=True, verbose_name='target')),
                        ('outcome', models.CharField(choices=[('SUCCESS', 'Success'), ('FAILURE', 'Failure'), ('DRY_RUN', 'Dry run')], default='SUCCESS', max_length=10, verbose_name='outcome')),
                        ('detail', models.JSONField(blank=True, default=dict, verbose_name='detail')),
                        ('ip_address', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP address')),
                        ('prev_hash', models.CharField(blank=True, default='', editable=False, max_length=64, verbose_name='previous hash')),
                        ('hash', models.CharField(blank=True, default='', editable=False, max_length=64, verbose_name='hash')),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'audit entry',
                        'verbose_name_plural': 'audit trail',
                        'db_table': 'maintenance_auditentry',
                        'ordering': ['-created_at'],
                        'permissions': [('export_data', 'Can export data (CSV, JSON, XLSX)')],
                        'indexes': [models.Index(fields=['target_type', 'target_id'], name='maint_audit_target')],
                    },
                ),
                ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
