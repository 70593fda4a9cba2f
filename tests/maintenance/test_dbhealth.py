"""manage.py dbhealth: table figures with growth since the last run, disks, backups, alerts."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from crm.models import Client
from maintenance.dbhealth import database_health
from maintenance.models import Heartbeat
from tests import factories as f

pytestmark = pytest.mark.django_db


def _table(report, name):
    return next(t for t in report.tables if t.name == name)


def test_rows_sizes_and_growth_since_the_last_run():
    f.ClientFactory.create_batch(2)
    first = database_health()
    f.ClientFactory.create_batch(3)

    second = database_health()

    clients = _table(second, "crm_client")
    assert clients.rows == Client.all_objects.count() == 5
    assert clients.rows_growth == 3
    assert _table(first, "crm_client").rows_growth is None  # nothing to compare with yet
    if connection.vendor == "mysql":
        assert clients.data_bytes > 0 and clients.index_bytes > 0 and clients.free_bytes is not None
    assert {d.label for d in second.disks} >= {"backups"}


def test_a_salon_without_a_recent_backup_or_beat_gets_alerts_and_a_non_zero_exit(capsys, installed):
    installed(timezone.now() - timedelta(days=30))  # past the new installation's grace
    with pytest.raises(SystemExit) as exit_:
        call_command("dbhealth", "--json")

    assert exit_.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert any(alert.startswith("no good backup within the recovery point objective") for alert in report["alerts"])
    assert "Celery beat or worker silent" in report["alerts"]
    assert "no restore test within 8 days" in report["alerts"]


def test_a_well_kept_salon_has_no_alerts(capsys, monkeypatch):
    import maintenance.dbhealth as dbhealth

    now = timezone.now()
    f.BackupFactory(started_at=now - timedelta(hours=3), verified_at=now, restore_tested_at=now - timedelta(days=2))
    Heartbeat.beat("celery")
    monkeypatch.setattr(dbhealth, "_disks", lambda: [dbhealth.DiskFigures("database", "/", 100, 60)])

    call_command("dbhealth")

    out = capsys.readouterr().out
    assert "No alerts." in out
    assert "crm_client" in out
