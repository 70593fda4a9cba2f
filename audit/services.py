import logging
from typing import Any

from django.db import DatabaseError, connection, models, transaction

from audit.models import AuditChainHead, AuditEntry, Outcome

log = logging.getLogger("beils.audit")


def audit_log(
    *,
    action: str,
    actor=None,
    target: models.Model | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    """Record one data-management operation. ``actor`` None means a scheduled or system job."""
    is_user = actor is not None and getattr(actor, "pk", None) is not None
    entry = AuditEntry(
        actor=actor if is_user else None,
        actor_label=(actor.email if is_user else str(actor or "system"))[:255],
        action=action,
        target_type=target._meta.label_lower if target is not None else None,
        target_id=str(target.pk) if target is not None else None,
        target_label=str(target)[:255] if target is not None else None,
        outcome=outcome,
        detail=detail or {},
        ip_address=ip_address,
    )
    try:
        with transaction.atomic():
            entry.save()
    except DatabaseError:
        tables = connection.introspection.table_names()
        if AuditEntry._meta.db_table in tables and AuditChainHead._meta.db_table in tables:
            raise
        # An empty database during disaster recovery: the trail starts once the data is back.
        # Or one whose schema predates the hash chain (a migration under way): it cannot hold the
        # entry until the chain's migration has run.
        log.warning("audit (no audit table yet): %s %s %s %s", entry.actor_label, action, outcome, detail)
        return None
    return entry
