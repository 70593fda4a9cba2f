"""Moving the audit trail and the import/export jobs into their own apps moves no data: the
same rows stay in the same tables, their content types (and so the permissions granted on them)
keep their ids, and a job waiting for confirmation still finds its resource."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.models import AuditEntry
from transfer.models import Job

BEFORE = [("maintenance", "0012_run_heartbeat"), ("audit", None), ("transfer", None)]


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_rows_content_types_rights_and_resource_paths():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state([BEFORE[0]]).apps
    # As in a database that has never seen the new apps.
    old.get_model("contenttypes", "ContentType").objects.filter(app_label__in=["audit", "transfer"]).delete()
    entry_type = old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="maintenance", model="auditentry"
    )[0]
    job_type = old.get_model("contenttypes", "ContentType").objects.get_or_create(app_label="maintenance", model="job")[
        0
    ]
    old.get_model("auth", "Permission").objects.get_or_create(
        content_type=entry_type, codename="export_data", defaults={"name": "Can export data"}
    )
    old.get_model("maintenance", "AuditEntry").objects.create(action="maintenance.test.before", actor_label="system")
    job = old.get_model("maintenance", "Job").objects.create(
        kind="IMPORT", state="VALIDATED", resource="crm.resources.ClientResource", model_label="crm.Client",
        file_format="csv",
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()

    assert AuditEntry.objects.filter(action="maintenance.test.before").exists()
    assert ContentType.objects.get(pk=entry_type.pk).app_label == "audit"
    assert ContentType.objects.get(pk=job_type.pk).app_label == "transfer"
    assert Permission.objects.get(codename="export_data").content_type_id == job_type.pk
    assert Job.objects.get(pk=job.pk).resource == "transfer.resources.crm.ClientResource"
