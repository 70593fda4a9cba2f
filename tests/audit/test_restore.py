"""A restore is an audited event, not an erasure of history: the audit entries written since the
backup (the erasures, the exports, the lockouts, the safety backup…) are still there after it,
with their ids and hashes, followed by the restore's own entry; and the chain still verifies."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from audit import chain
from audit.chain import audit_chain_verify, chain_rotate
from audit.models import AuditEntry
from backups.services import BackupError, backup_create, backup_restore
from crm.erasure import client_erase
from crm.gdpr import client_data_export
from tests.factories import AuditEntryFactory, ClientFactory

pytestmark = pytest.mark.django_db(transaction=True)


def entries(**filters) -> dict[int, dict]:
    # The label aside: the erasure ledger's replay after the restore redacts it again, as GDPR
    # erasure may (it is outside the hash for that reason).
    columns = [f.attname for f in AuditEntry._meta.concrete_fields if f.name != "target_label"]
    return {row["id"]: row for row in AuditEntry.objects.filter(**filters).values(*columns)}


def lock_out(email: str) -> None:
    for _ in range(5):
        Browser(REMOTE_ADDR="203.0.113.7").post(reverse("admin:login"), {"username": email, "password": "wrong"})


@pytest.fixture
def audited_since_backup(admin_user, manager_user):
    """A backup, then an export, an erasure and a lockout: what the trail must not lose."""
    exported, erased = ClientFactory(), ClientFactory()
    backup = backup_create()
    newest_in_backup = AuditEntry.objects.order_by("-pk").first().pk
    client_data_export(client=exported, actor=manager_user, ip_address="10.0.0.7")
    client_erase(client=erased, actor=admin_user)
    lock_out(manager_user.email)
    since = entries(pk__gt=newest_in_backup)
    actions = {row["action"] for row in since.values()}
    assert {"crm.client.data_exported", "crm.client.erased", "crm.login.locked_out"} <= actions, actions
    return backup, since


def test_a_full_restore_keeps_every_audit_entry_made_since_the_backup(audited_since_backup, admin_user):
    backup, since = audited_since_backup

    backup_restore(backup, actor=admin_user)

    after = entries()
    assert {pk: after.get(pk) for pk in since} == since  # same ids, same fields, same hashes
    restored = AuditEntry.objects.get(action="maintenance.backup.restored")
    assert restored.pk > max(since)
    assert audit_chain_verify().ok, audit_chain_verify().as_dict()


def test_a_selective_restore_of_the_audit_table_keeps_them_too(audited_since_backup, admin_user):
    backup, since = audited_since_backup

    backup_restore(backup, tables=["maintenance_auditentry"], actor=admin_user)

    after = entries()
    assert {pk: after.get(pk) for pk in since} == since
    assert AuditEntry.objects.filter(action="maintenance.backup.restored").exists()
    assert audit_chain_verify().ok, audit_chain_verify().as_dict()


def test_a_restore_after_a_rotation_still_verifies(admin_user):
    AuditEntryFactory.create_batch(3, created_at=timezone.now() - timedelta(days=800))
    backup = backup_create()
    chain_rotate(AuditEntry.objects.filter(created_at__lt=timezone.now() - timedelta(days=400)))
    client_data_export(client=ClientFactory(), actor=admin_user)
    assert audit_chain_verify().ok

    backup_restore(backup, actor=admin_user)

    assert AuditEntry.objects.filter(action="crm.client.data_exported").exists()
    assert AuditEntry.objects.filter(created_at__lt=timezone.now() - timedelta(days=400)).count() == 3
    assert audit_chain_verify().ok, audit_chain_verify().as_dict()


def test_entries_that_cannot_be_put_back_are_saved_in_a_file_and_the_restore_says_so(
    audited_since_backup, admin_user, monkeypatch
):
    backup, since = audited_since_backup

    def broken(using):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(chain, "chain_resync", broken)

    with pytest.raises(BackupError, match="not the audit entries since the backup") as failure:
        backup_restore(backup, actor=admin_user)

    saved = Path(str(failure.value).split("saved in ")[-1].rstrip("."))
    assert {row["id"] for row in json.loads(saved.read_text())} >= set(since)
    assert not AuditEntry.objects.filter(pk__in=list(since)).exists()  # none half put back


def test_an_entry_written_while_the_dump_loads_is_kept_too(admin_user, monkeypatch):
    """The salon keeps working while a big dump loads: what is audited meanwhile must survive
    the swap as well (the trail is read at the last moment before it)."""
    from audit.services import audit_log
    from backups import engines

    backup = backup_create()
    written = []

    def and_meanwhile(load):
        def loading(*args, **kwargs):
            load(*args, **kwargs)
            written.append(audit_log(action="crm.client.data_exported", actor=admin_user).pk)

        return loading

    monkeypatch.setattr(engines.MariaDBEngine, "load", and_meanwhile(engines.MariaDBEngine.load))
    monkeypatch.setattr(engines.SQLiteEngine, "load", and_meanwhile(engines.SQLiteEngine.load))

    backup_restore(backup, actor=admin_user, safety_backup=False)

    assert written and AuditEntry.objects.filter(pk=written[0], action="crm.client.data_exported").exists()
    assert audit_chain_verify().ok, audit_chain_verify().as_dict()
