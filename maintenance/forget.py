"""Forgetting on time: clients with no activity for the retention period are listed for review and
erased, by a person, with the GDPR erasure (``crm.erasure.client_erase``).

**Which period, and is it on?** The retention policy ``clients-forget`` (admin: Retention
policies) is the one switch and, once its days are filled in, the one period:

- ``enabled`` is the switch, and only it: off by default (ticked by the migration at installation
  when ``RETENTION_FORGET_YEARS`` is set). Unticked in the admin, the policy is off whatever the
  environment says;
- the period is the policy's ``after_days`` when filled in (the admin wins), else
  ``RETENTION_FORGET_YEARS`` years; with neither, the policy is off even when ticked;
- ``manage.py forget_clients --years N`` is an operator's explicit one-off choice: it applies
  for that run even with the policy off.

**Who is forgettable** is decided in crm (``Client.all_objects.forgettable``, crm/forgetting.py).

**Erasing** re-checks each client inside its own transaction with the client row locked: a
client who became active between the listing and the erasure (a booking, a sale, a payment) is
refused and left untouched. On MariaDB a new booking, sale or debt of that client takes a shared
lock on the client row (its foreign key), so it waits for the erasure's lock and cannot slip in
between the check and the erasure. Each erasure is the same as ``gdpr_erase``'s (its audit entry
``crm.client.erased``, its ledger line); the run is recorded (``LifecycleRun`` of kind FORGET,
audited ``maintenance.forget.done``).

**Nothing is erased unattended.** The weekly job (maintenance/schedules.py) only counts the
clients due and mails the admins: erasure cannot be undone, and the salon may know what the
database does not (a client who phoned yesterday, a complaint or claim still open, a record kept
for a legal hold), so a person reviews the list and presses the button.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.services import audit_log
from crm.erasure import client_erase
from crm.forgetting import LastActivity, blocker_label, blocking_reasons, last_activity
from crm.models import Client, CrmError
from maintenance.lifecycle import lifecycle_run
from maintenance.models import FORGET_MIN_DAYS, FORGET_POLICY_CODE, LifecycleKind, RetentionPolicy

POLICY_CODE = FORGET_POLICY_CODE
DAYS_PER_YEAR = 365
REVIEWED_ACTION = "maintenance.forget.reviewed"
IDS_PER_QUERY = 500


class ForgetError(CrmError):
    """Forgetting refused as asked (the policy is off, a bad period)."""


@dataclass(frozen=True)
class ForgetPolicy:
    """The policy in force: whether it is on, its period in days and where the period came from
    (``"admin"``, ``"environment"``, ``"command"`` or ``None`` when there is none)."""

    enabled: bool
    days: int | None
    source: str | None

    @property
    def is_on(self) -> bool:
        return self.enabled and self.days is not None

    @property
    def years(self) -> str:
        """The period in years as people write it: "6", or "2,5" for 912 days in Spanish."""
        if self.days % DAYS_PER_YEAR == 0:
            return str(self.days // DAYS_PER_YEAR)
        return formats.number_format(self.days / DAYS_PER_YEAR, 1)

    def before(self, now: datetime | None = None) -> datetime:
        return (now or timezone.now()) - timedelta(days=self.days)


def forget_policy(*, years: int | None = None) -> ForgetPolicy:
    """The policy in force (see the module's docstring for which setting wins). ``years`` is
    the command's explicit ``--years``: it wins over everything for that run."""
    if years is not None:
        if years < 1:
            raise ForgetError(_("The number of years must be 1 or more."))
        return ForgetPolicy(enabled=True, days=years * DAYS_PER_YEAR, source="command")
    row = RetentionPolicy.objects.filter(code=POLICY_CODE).first()
    enabled = bool(row and row.enabled)
    if row is not None and row.after_days is not None:
        return ForgetPolicy(enabled=enabled, days=row.after_days, source="admin")
    if settings.RETENTION_FORGET_YEARS is not None:
        return ForgetPolicy(enabled=enabled, days=settings.RETENTION_FORGET_YEARS * DAYS_PER_YEAR, source="environment")
    return ForgetPolicy(enabled=enabled, days=None, source=None)


def policy_in_force(*, years: int | None = None) -> ForgetPolicy:
    """:func:`forget_policy`, refused with a message that says how to switch it on when off."""
    policy = forget_policy(years=years)
    if policy.is_on and policy.days < FORGET_MIN_DAYS:
        # The admin's days cannot be shorter (a database constraint); RETENTION_FORGET_YEARS=0 can.
        raise ForgetError(_("The period to forget clients after must be a year or more."))
    if policy.is_on:
        return policy
    if not policy.enabled:
        raise ForgetError(
            _(
                "Forgetting inactive clients is switched off. Switch on the retention policy "
                "“%(code)s” in the admin (Retention policies), or give the period for this run "
                "with --years."
            )
            % {"code": POLICY_CODE}
        )
    raise ForgetError(
        _(
            "The retention policy “%(code)s” is on but has no period: fill in its days in the admin "
            "or set RETENTION_FORGET_YEARS."
        )
        % {"code": POLICY_CODE}
    )


@dataclass(frozen=True)
class Candidate:
    """A client due to be forgotten, and why: their latest activity."""

    client_id: int
    name: str
    activity: LastActivity

    def as_dict(self) -> dict:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "last_activity": self.activity.when.isoformat(),
            "kind": self.activity.kind.value,
        }


def forgettable_clients(*, before: datetime, now: datetime | None = None):
    """The forgettable clients as a queryset (the admin's list, counts)."""
    return Client.all_objects.forgettable(before=before, now=now)


def forget_candidates(*, before: datetime, now: datetime | None = None, ids=None) -> list[Candidate]:
    """Who is due to be forgotten and why, oldest activity first; only the clients ``ids`` when
    given. One query: a page's selection is looked up by id, a longer one (the whole list) is
    read whole and picked from rather than sent as an IN of thousands of ids."""
    wanted = None if ids is None else set(ids)
    clients = forgettable_clients(before=before, now=now)
    if wanted is not None and len(wanted) <= IDS_PER_QUERY:
        clients = clients.filter(pk__in=sorted(wanted))
    candidates = [
        Candidate(client.pk, client.full_name, last_activity(client))
        for client in clients.order_by("pk")
        if wanted is None or client.pk in wanted
    ]
    return sorted(candidates, key=lambda candidate: (candidate.activity.when, candidate.client_id))


@dataclass
class ForgetResult:
    before: datetime
    forgotten: list[Candidate] = field(default_factory=list)
    #: Clients listed but found active (or gone) when their turn came: id -> reason keys.
    refused: dict[int, list[str]] = field(default_factory=dict)
    run_id: int | None = None

    def as_detail(self) -> dict:
        """Ids, dates and kinds only: the run's audit entry never names the people."""
        return {
            "before": self.before.isoformat(),
            "forgotten": [candidate.client_id for candidate in self.forgotten],
            "refused": {str(pk): reasons for pk, reasons in self.refused.items()},
        }


def refusal_text(reasons: list[str]) -> str:
    return ", ".join(blocker_label(reason) for reason in reasons)


def clients_forget(
    *,
    before: datetime,
    ids,
    actor=None,
    actor_label: str | None = None,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> ForgetResult:
    """Erase the clients ``ids`` (as listed for review) who are still forgettable at ``before``;
    refuse, untouched, those who became active since. One recorded run (``LifecycleKind.FORGET``)
    and one ``crm.client.erased`` entry per client (by ``client_erase``). ``actor`` is the staff
    member (or None for a command without ``--actor``); ``actor_label`` names a command."""
    result = ForgetResult(before=before)
    who = actor if actor is not None else actor_label
    with lifecycle_run(LifecycleKind.FORGET, dry_run=False, actor=actor) as run:
        listed = {candidate.client_id: candidate for candidate in forget_candidates(before=before, now=now, ids=ids)}
        for pk in sorted(set(ids)):
            with transaction.atomic():
                client = Client.all_objects.select_for_update().filter(pk=pk).first()
                reasons = ["erased"] if client is None else blocking_reasons(client, before=before, now=now)
                if reasons or pk not in listed:
                    result.refused[pk] = reasons or ["erased"]
                    run.add("crm_client", "refused: no longer due", 1)
                    continue
                client_erase(client=client, actor=who, ip_address=ip_address)
            result.forgotten.append(listed[pk])
            run.add("crm_client", "forgotten", 1)
        run.detail.update(result.as_detail())
    result.run_id = run.pk
    return result


def forget_review(*, now: datetime | None = None) -> int | None:
    """The weekly review: count the clients due and, when there are any, mail the admins where to
    find the review list. Never erases. ``None`` when the policy is off (nothing mailed)."""
    from maintenance.alerts import admins_mail

    policy = forget_policy()
    if not policy.is_on:
        return None
    before = policy.before(now)
    due = forgettable_clients(before=before, now=now).count()
    if due:
        subject = ngettext(
            "Beils: %(count)s client is due to be forgotten",
            "Beils: %(count)s clients are due to be forgotten",
            due,
        ) % {"count": due}
        body = _(
            "Clients due: %(count)s, with no visit, purchase, debt or signed form for %(years)s years "
            "(retention policy “%(code)s”).\n\nReview them in the admin (Data care → Clients due "
            "to be forgotten) or with `manage.py forget_clients --dry-run`. Nothing is erased until an "
            "ADMIN confirms it.\n"
        ) % {"count": due, "years": policy.years, "code": POLICY_CODE}
        admins_mail(subject, body)
        audit_log(action=REVIEWED_ACTION, detail={"due": due, "before": before.isoformat(), "days": policy.days})
    return due
