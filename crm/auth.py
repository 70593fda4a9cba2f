"""Login throttling: django-axes, adapted to the salon.

Every HTTP login (the admin's form, DRF's session or basic login) passes its request to
``authenticate``; that is what axes counts. The lockout itself is recorded in the audit trail.
"""

from axes.backends import AxesStandaloneBackend
from axes.signals import user_locked_out
from django.dispatch import receiver

from audit.models import Outcome
from audit.services import audit_log


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out e-mail + IP pair before any password is checked.

    A call without a request (a management command, a shell, the test client's ``login``) has no
    client address and no HTTP attempt to count, so it is left to the next backend instead of
    failing as axes' own backend does. Every login an attacker can reach is an HTTP request.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_locked_out, dispatch_uid="crm.audit_lockout")
def audit_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """Every refused attempt of a locked-out pair (the one that locks it and any attempt during
    the cool-off) is one ``crm.login.locked_out`` entry; the actor is the e-mail that was typed,
    as a label only (it may not be anyone's account)."""
    audit_log(
        action="crm.login.locked_out",
        actor=(username or "unknown")[:255],
        ip_address=ip_address,
        outcome=Outcome.FAILURE,
        detail={"path": getattr(request, "path", None)},
    )
