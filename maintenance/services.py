from typing import Any

from django.db import models

from maintenance.models import AuditEntry, Outcome


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
    return AuditEntry.objects.create(
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
