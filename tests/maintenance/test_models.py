"""The audit trail is append-only."""

import pytest

from audit.models import AuditEntry, Outcome
from audit.services import audit_log
from crm.models import Client
from tests.factories import AuditEntryFactory, ClientFactory

pytestmark = pytest.mark.django_db


def test_an_audit_entry_cannot_be_edited():
    entry = AuditEntryFactory()
    entry.outcome = Outcome.FAILURE
    with pytest.raises(PermissionError):
        entry.save()
    entry.refresh_from_db()
    assert entry.outcome == Outcome.SUCCESS


def test_an_audit_entry_cannot_be_deleted():
    entry = AuditEntryFactory()
    with pytest.raises(PermissionError):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_audit_log_records_who_did_what_to_which_record(admin_user):
    client = ClientFactory(name="Ana", surname="Ruiz")

    entry = audit_log(
        action="crm.client.erased", actor=admin_user, target=client, detail={"rows": 3}, ip_address="10.0.0.1"
    )

    entry = AuditEntry.objects.get(pk=entry.pk)
    assert (entry.actor, entry.actor_label) == (admin_user, admin_user.email)
    assert (entry.action, entry.outcome) == ("crm.client.erased", Outcome.SUCCESS)
    assert (entry.target_type, entry.target_id, entry.target_label) == ("crm.client", str(client.pk), "Ana Ruiz")
    assert entry.detail == {"rows": 3}
    assert entry.ip_address == "10.0.0.1"


def test_audit_log_without_an_actor_is_a_system_job():
    entry = audit_log(action="maintenance.backup.created", outcome=Outcome.FAILURE)
    assert (entry.actor, entry.actor_label, entry.target_type) == (None, "system", None)
    assert list(AuditEntry.objects.failures()) == [entry]
    assert list(AuditEntry.objects.for_action("maintenance.")) == [entry]


def test_an_entry_outlives_the_account_that_made_it(staff_user):
    entry = audit_log(action="crm.client.exported", actor=staff_user, target=ClientFactory())
    staff_user.delete()
    entry.refresh_from_db()
    assert entry.actor is None
    assert entry.actor_label == "sara@salon.example"


def test_an_entry_outlives_its_target():
    client = ClientFactory()
    entry = audit_log(action="crm.client.deleted", target=client)
    client_pk = client.pk
    client.delete()
    assert not Client.all_objects.filter(pk=client_pk).exists()
    entry.refresh_from_db()
    assert entry.target_id == str(client_pk)
