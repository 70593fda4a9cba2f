"""Backups and restore drills move out of ``maintenance`` into this app.

No data moves: the tables keep their names (``db_table``); the models are taken into this app's
state (and out of maintenance's, in maintenance 0016). Their content types move with them, so
the rights to run, download and restore backups stay granted to the same people.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MODELS = ["backup", "restoredrill"]


def move_content_types(apps, schema_editor, source="maintenance", destination="backups"):
    """Re-label the models' content types (and so their permissions) from ``source`` to
    ``destination``; where ``destination`` already has one, the old one is left to
    ``remove_stale_contenttypes``."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    taken = set(ContentType.objects.using(db).filter(app_label=destination).values_list("model", flat=True))
    ContentType.objects.using(db).filter(app_label=source, model__in=set(MODELS) - taken).update(app_label=destination)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, source="backups", destination="maintenance")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
        ("maintenance", "0015_purge_trash_permission"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Backup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('file_name', models.CharField(max_length=255, unique=True, verbose_name='file')),
                        ('kind', models.CharField(choices=[('SCHEDULED', 'Scheduled'), ('MANUAL', 'Manual'), ('PRE_MIGRATE', 'Before a migration'), ('SAFETY', 'Safety copy before a restore')], default='MANUAL', max_length=12, verbose_name='kind')),
                        ('status', models.CharField(choices=[('RUNNING', 'Running'), ('SUCCESS', 'Good'), ('FAILED', 'Failed'), ('DELETED', 'Pruned')], default='RUNNING', max_length=10, verbose_name='status')),
                        ('engine', models.CharField(max_length=20, verbose_name='engine')),
                        ('server_version', models.CharField(blank=True, max_length=100, verbose_name='server version')),
                        ('database', models.CharField(max_length=100, verbose_name='database')),
                        ('started_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='started')),
                        ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                        ('heartbeat_at', models.DateTimeField(blank=True, help_text='Written while the work progresses; a RUNNING row whose sign of life is older than STALE_WORK_MINUTES was killed and is marked failed by the stale-work check.', null=True, verbose_name='last sign of life')),
                        ('size_bytes', models.BigIntegerField(blank=True, null=True, verbose_name='size (bytes)')),
                        ('sha256', models.CharField(blank=True, max_length=64, verbose_name='SHA-256')),
                        ('compression', models.CharField(default='gzip', max_length=20, verbose_name='compression')),
                        ('encrypted', models.BooleanField(default=False, verbose_name='encrypted')),
                        ('tables_requested', models.JSONField(blank=True, default=list, help_text='Empty = full', verbose_name='tables requested')),
                        ('tables', models.JSONField(blank=True, default=dict, help_text='{table: {rows, sha256}}', verbose_name='tables')),
                        ('migrations', models.JSONField(blank=True, default=dict, verbose_name='migration state')),
                        ('storage', models.JSONField(blank=True, default=list, help_text='Where copies of the file are', verbose_name='copies')),
                        ('binlog', models.JSONField(blank=True, help_text='Where the binary log stood at the snapshot (file, position, GTID): replay from here', null=True, verbose_name='binary log position')),
                        ('ledger', models.JSONField(blank=True, help_text='The GDPR erasure ledger copied beside the file for its off-site copies (file, SHA-256, entries)', null=True, verbose_name='erasure ledger copy')),
                        ('verified_at', models.DateTimeField(blank=True, null=True, verbose_name='verified')),
                        ('verify_ok', models.BooleanField(null=True, verbose_name='verification passed')),
                        ('restore_tested_at', models.DateTimeField(blank=True, null=True, verbose_name='restore-tested')),
                        ('error', models.TextField(blank=True, verbose_name='error')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'backup',
                        'db_table': 'maintenance_backup',
                        'ordering': ['-started_at'],
                        'permissions': [('run_backup', 'Can start backups and verifications'), ('download_backup', 'Can download backup files'), ('restore_backup', 'Can restore backups')],
                    },
                ),
                migrations.CreateModel(
                    name='RestoreDrill',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('backup_file', models.CharField(max_length=255, verbose_name='backup file')),
                        ('engine', models.CharField(max_length=20, verbose_name='engine')),
                        ('started_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='started')),
                        ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                        ('heartbeat_at', models.DateTimeField(blank=True, help_text='Written while the work progresses; a RUNNING row whose sign of life is older than STALE_WORK_MINUTES was killed and is marked failed by the stale-work check.', null=True, verbose_name='last sign of life')),
                        ('outcome', models.CharField(blank=True, choices=[('SUCCESS', 'Success'), ('FAILURE', 'Failure'), ('DRY_RUN', 'Dry run')], max_length=10, null=True, verbose_name='outcome')),
                        ('seconds', models.FloatField(blank=True, null=True, verbose_name='recovery time (s)')),
                        ('rto_hours', models.PositiveIntegerField(verbose_name='RTO target (h)')),
                        ('tables', models.PositiveIntegerField(default=0, verbose_name='tables')),
                        ('rows', models.BigIntegerField(default=0, verbose_name='rows')),
                        ('invoices', models.PositiveIntegerField(blank=True, null=True, verbose_name='invoices checked')),
                        ('detail', models.JSONField(blank=True, default=dict, verbose_name='detail')),
                        ('error', models.TextField(blank=True, verbose_name='error')),
                        ('actor', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('backup', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='drills', to='backups.backup')),
                    ],
                    options={
                        'verbose_name': 'restore drill',
                        'db_table': 'maintenance_restoredrill',
                        'ordering': ['-started_at'],
                        'get_latest_by': 'started_at',
                    },
                ),
                ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
