"""Import and export jobs move out of ``maintenance`` into this app.

No data moves: the table keeps its name (``db_table``); the model is taken into this app's state
(and out of maintenance's, in maintenance 0014). Its content type moves with it, the right to
export moves from the audit entry to the job (``transfer.export_data``), and the jobs' resource
paths follow the resources to ``transfer.resources``, so a checked import still waiting for its
confirmation can be confirmed.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

APPS = ("crm", "catalog", "marketing", "sales", "bookings")


def _relabel(ContentType, db, source: str, destination: str):
    if ContentType.objects.using(db).filter(app_label=destination, model="job").exists():
        return ContentType.objects.using(db).get(app_label=destination, model="job")
    ContentType.objects.using(db).filter(app_label=source, model="job").update(app_label=destination)
    return ContentType.objects.using(db).filter(app_label=destination, model="job").first()


def move_jobs(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Job = apps.get_model("transfer", "Job")
    db = schema_editor.connection.alias
    job_type = _relabel(ContentType, db, "maintenance", "transfer")
    if job_type is not None:
        Permission.objects.using(db).filter(
            codename="export_data", content_type__app_label="audit", content_type__model="auditentry"
        ).exclude(content_type=job_type).update(content_type=job_type)
    for app in APPS:  # crm.resources.ClientResource -> transfer.resources.crm.ClientResource
        for job in Job.objects.using(db).filter(resource__startswith=f"{app}.resources."):
            job.resource = f"transfer.resources.{app}." + job.resource.removeprefix(f"{app}.resources.")
            job.save(update_fields=["resource"])


def move_jobs_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Job = apps.get_model("transfer", "Job")
    db = schema_editor.connection.alias
    audit_type = ContentType.objects.using(db).filter(app_label="audit", model="auditentry").first()
    if audit_type is not None:
        Permission.objects.using(db).filter(
            codename="export_data", content_type__app_label="transfer", content_type__model="job"
        ).update(content_type=audit_type)
    _relabel(ContentType, db, "transfer", "maintenance")
    for app in APPS:
        for job in Job.objects.using(db).filter(resource__startswith=f"transfer.resources.{app}."):
            job.resource = f"{app}.resources." + job.resource.removeprefix(f"transfer.resources.{app}.")
            job.save(update_fields=["resource"])


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("audit", "0001_initial"),
        ("maintenance", "0013_audit_moves_to_its_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Job',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('IMPORT', 'Import'), ('EXPORT', 'Export')], max_length=10, verbose_name='kind')),
                        ('state', models.CharField(choices=[('QUEUED', 'Queued'), ('RUNNING', 'Running'), ('VALIDATED', 'Checked: ready to import'), ('INVALID', 'Refused: invalid rows'), ('DONE', 'Done'), ('FAILED', 'Failed')], default='QUEUED', max_length=10, verbose_name='state')),
                        ('resource', models.CharField(help_text='Dotted path of the resource class', max_length=200, verbose_name='resource')),
                        ('model_label', models.CharField(max_length=100, verbose_name='data')),
                        ('file_format', models.CharField(max_length=10, verbose_name='format')),
                        ('dry_run', models.BooleanField(default=True, verbose_name='dry run')),
                        ('ip_address', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP address')),
                        ('input_name', models.CharField(blank=True, max_length=300, verbose_name='uploaded file')),
                        ('input_sha256', models.CharField(blank=True, max_length=64, verbose_name='uploaded file SHA-256')),
                        ('export_pks', models.JSONField(blank=True, null=True, verbose_name='selected rows')),
                        ('output_name', models.CharField(blank=True, max_length=300, verbose_name='result file')),
                        ('rows_total', models.PositiveIntegerField(default=0, verbose_name='rows')),
                        ('rows_done', models.PositiveIntegerField(default=0, verbose_name='rows done')),
                        ('summary', models.JSONField(blank=True, default=dict, verbose_name='summary')),
                        ('error', models.TextField(blank=True, verbose_name='error')),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='created')),
                        ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started')),
                        ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                        ('heartbeat_at', models.DateTimeField(blank=True, help_text='Written while the work progresses; a RUNNING row whose sign of life is older than STALE_WORK_MINUTES was killed and is marked failed by the stale-work check.', null=True, verbose_name='last sign of life')),
                        ('actor', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'import/export job',
                        'db_table': 'maintenance_job',
                        'ordering': ['-created_at'],
                        'permissions': [('export_data', 'Can export data (CSV, JSON, XLSX)'), ('import_data', 'Can import data into any record'), ('import_catalogue', 'Can import the catalogue and marketing'), ('view_every_job', "Can see everyone's import and export jobs")],
                    },
                ),
                ],
            database_operations=[],
        ),
        migrations.RunPython(move_jobs, move_jobs_back),
    ]
