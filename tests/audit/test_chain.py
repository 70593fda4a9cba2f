"""The audit trail is hash-chained: every entry carries the hash of the one before it, so an
entry changed, removed or slipped in behind the application's back is found by verifyaudit."""

import json
import threading
from datetime import timedelta
from importlib import import_module
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from audit.chain import audit_chain_verify, chain_rotate
from audit.models import AuditChainHead, AuditEntry
from audit.services import audit_log
from tests.factories import AuditEntryFactory, ClientFactory

pytestmark = pytest.mark.django_db


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def trail(count: int = 5, **kwargs) -> list[AuditEntry]:
    return [audit_log(action=f"maintenance.test.step{n}", detail={"n": n}, **kwargs) for n in range(count)]


def verifyaudit(*args) -> str:
    out = StringIO()
    call_command("verifyaudit", *args, stdout=out)
    return out.getvalue()


def test_each_entry_is_chained_to_the_one_before_it():
    first, second = trail(2)

    second = AuditEntry.objects.get(pk=second.pk)
    assert len(first.hash) == 64 and first.prev_hash == ""
    assert second.prev_hash == first.hash != second.hash


def test_an_intact_trail_passes(admin_user):
    trail(3, actor=admin_user, ip_address="2001:0db8::0001")
    audit_log(action="crm.client.erased", target=ClientFactory(), detail={"rows": {"crm_consent": 2}})

    assert "4 entries" in verifyaudit()
    report = json.loads(verifyaudit("--json"))
    assert (report["ok"], report["entries"], report["first_broken"]) == (True, 4, None)


@pytest.mark.parametrize(
    "column, value", [("detail", '{"n": 99}'), ("action", "maintenance.test.innocent")], ids=["detail", "action"]
)
def test_a_changed_entry_is_named_as_the_first_broken_link(column, value):
    entries = trail()
    raw(f"UPDATE maintenance_auditentry SET {column} = %s WHERE id = %s", [value, entries[2].pk])

    with pytest.raises(CommandError) as failure:
        verifyaudit()

    assert f"#{entries[2].pk}" in str(failure.value)
    assert "altered" in str(failure.value)
    report = audit_chain_verify()
    assert not report.ok and report.first_broken.entry_id == entries[2].pk


def test_a_removed_entry_is_found_at_the_entry_after_it():
    entries = trail()
    raw("DELETE FROM maintenance_auditentry WHERE id = %s", [entries[2].pk])

    with pytest.raises(CommandError) as failure:
        verifyaudit()

    assert f"#{entries[3].pk}" in str(failure.value) and "maintenance.test.step3" in str(failure.value)
    assert "missing" in str(failure.value)


def test_removing_the_newest_entries_is_found_too():
    entries = trail()
    raw("DELETE FROM maintenance_auditentry WHERE id >= %s", [entries[3].pk])

    report = audit_chain_verify()

    assert not report.ok
    assert "newest" in report.first_broken.problem


def test_an_entry_slipped_in_without_a_hash_is_found():
    entries = trail(2)
    raw(
        "INSERT INTO maintenance_auditentry (created_at, actor_label, action, outcome, detail, prev_hash, hash) "
        "VALUES (%s, 'system', 'maintenance.test.forged', 'SUCCESS', '{}', '', '')",
        [timezone.now()],
    )
    trail(1)

    report = audit_chain_verify()

    assert not report.ok and report.first_broken.entry_id > entries[1].pk
    assert report.first_broken.action == "maintenance.test.forged"


def test_redacting_a_label_for_gdpr_erasure_keeps_the_chain_intact():
    entries = trail()
    AuditEntry.objects.filter(pk=entries[1].pk).redact(target_label="crm.client #1 (erased)")

    assert audit_chain_verify().ok


def test_the_trail_still_verifies_after_rotation_even_with_entries_kept_longer():
    old = timezone.now() - timedelta(days=500)
    kept = [AuditEntryFactory(created_at=old, action="sales.invoice.issued" if n % 3 == 0 else "maintenance.x")
            for n in range(9)]  # fmt: skip
    trail(3)

    rotated = chain_rotate(AuditEntry.objects.filter(created_at__lt=old + timedelta(days=1), action="maintenance.x"))

    assert rotated == 6
    assert AuditEntry.objects.count() == 6
    assert audit_chain_verify().ok
    # A second rotation merges with the gaps of the first.
    assert chain_rotate(AuditEntry.objects.filter(pk__in=[kept[0].pk, kept[3].pk])) == 2
    trail(1)
    report = audit_chain_verify()
    assert report.ok, report.as_dict()
    # ...and a row deleted outside rotation is still found.
    raw("DELETE FROM maintenance_auditentry WHERE id = %s", [kept[6].pk])
    assert not audit_chain_verify().ok


def test_the_migration_chains_the_entries_written_before_the_chain_existed():
    trail(4)
    raw("UPDATE maintenance_auditentry SET prev_hash = '', hash = ''")
    assert not audit_chain_verify().ok

    migration = import_module("maintenance.migrations.0010_audit_chain")
    state = MigrationLoader(connection).project_state(("maintenance", "0010_audit_chain"))

    migration.chain_existing_entries(state.apps, None)

    assert audit_chain_verify().ok
    assert audit_log(action="maintenance.test.after").prev_hash == AuditEntry.objects.order_by("-pk")[1].hash


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "mysql", reason="row locks: MariaDB")
@pytest.mark.parametrize("head", ["present", "missing"])
def test_entries_written_at_once_by_two_threads_never_fork_the_chain(head):
    if head == "missing":  # as in a database restored from before the chain
        AuditChainHead.objects.all().delete()
    barrier, errors = threading.Barrier(2), []

    def writer(n):
        try:
            barrier.wait(timeout=10)
            for i in range(25):
                audit_log(action=f"maintenance.test.writer{n}", detail={"i": i})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    prev_hashes = list(AuditEntry.objects.values_list("prev_hash", flat=True))
    assert len(prev_hashes) == len(set(prev_hashes)) == 50
    assert audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_the_chain_head_is_there_again_after_a_flush():
    # Created on first use instead, two appends at once deadlocked on MariaDB (one entry lost).
    call_command("flush", "--noinput")

    assert AuditChainHead.objects.filter(pk=AuditChainHead.ROW).exists()
