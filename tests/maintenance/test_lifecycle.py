"""What every archive and cleanup run shares: a record, an audit entry, a mail on failure, one
run at a time; and the retention defaults."""

import threading

import pytest
from django.core import mail
from django.db import connection

from audit.models import AuditEntry
from backups.locks import MaintenanceBusy
from maintenance.lifecycle import lifecycle_run
from maintenance.models import LifecycleKind, LifecycleRun, RetentionPolicy

pytestmark = pytest.mark.django_db


def test_the_guide_s_retention_defaults_are_there_after_migrate():
    policies = {p.code: (p.target, p.action, p.after_days, p.purge_after_days) for p in RetentionPolicy.objects.all()}
    assert policies["completed-sales"] == ("sales.Cart", "ARCHIVE", 730, 2555)
    assert policies["appointments"] == ("bookings.Booking", "KEEP", None, None)
    assert policies["audit-trail"][1:3] == ("ROTATE", 365)
    assert policies["inactive-clients"][1:3] == ("DEACTIVATE", 730)


def test_a_run_is_recorded_with_its_counts_and_audited(admin_user):
    with lifecycle_run(LifecycleKind.ARCHIVE, dry_run=False, actor=admin_user) as run:
        run.add("sales_cart", "moved", 1000)
        run.add("sales_cart", "moved", 200)

    run = LifecycleRun.objects.get()
    assert (run.outcome, run.counts, run.actor) == ("SUCCESS", {"sales_cart": {"moved": 1200}}, admin_user)
    assert run.seconds is not None
    entry = AuditEntry.objects.get(action="maintenance.archive.done")
    assert entry.detail["counts"] == {"sales_cart": {"moved": 1200}}


def test_a_failed_run_is_recorded_audited_and_mailed_to_the_admins(settings):
    settings.ADMINS = [("Ops", "ops@salon.example")]
    with pytest.raises(RuntimeError), lifecycle_run(LifecycleKind.CLEANUP, dry_run=False) as run:
        run.add("crm_client", "removed", 5)
        raise RuntimeError("disk full")

    run = LifecycleRun.objects.get()
    assert (run.outcome, run.error, run.counts) == ("FAILURE", "disk full", {"crm_client": {"removed": 5}})
    assert AuditEntry.objects.get(action="maintenance.cleanup.failed").outcome == "FAILURE"
    assert "disk full" in mail.outbox[0].body


def test_a_dry_run_is_recorded_as_one():
    with lifecycle_run(LifecycleKind.ARCHIVE, dry_run=True):
        pass
    assert LifecycleRun.objects.get().outcome == "DRY_RUN"


def test_a_second_run_of_the_same_kind_is_refused_while_the_first_runs():
    refused = []

    def second_worker():  # its own thread, so its own database connection, as another worker
        try:
            with lifecycle_run(LifecycleKind.ARCHIVE, dry_run=False):
                pass
        except MaintenanceBusy as exc:
            refused.append(str(exc))
        finally:
            connection.close()

    with lifecycle_run(LifecycleKind.ARCHIVE, dry_run=False):
        worker = threading.Thread(target=second_worker)
        worker.start()
        worker.join()

    assert refused == ["Another archive run is in progress; this one did nothing."]
    assert LifecycleRun.objects.count() == 1
