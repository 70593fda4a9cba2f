"""Switching forgetting on in tests: the policy row comes from a data migration, which a flush (after
a transactional test) removes, so it is created when missing."""

from maintenance.forget import POLICY_CODE
from maintenance.models import RetentionPolicy


def switch_on(days: int | None, *, enabled: bool = True) -> RetentionPolicy:
    policy, _ = RetentionPolicy.objects.update_or_create(
        code=POLICY_CODE,
        defaults={"name": "Inactive clients to forget", "target": "crm.Client", "action": "REVIEW",
                  "enabled": enabled, "after_days": days},
    )  # fmt: skip
    return policy
