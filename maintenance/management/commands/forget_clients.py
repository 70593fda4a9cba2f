import json

from django.core.management.base import CommandError
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backups.locks import MaintenanceBusy
from beils.lib.commands import OperatorCommand
from crm.management.commands.gdpr_export import find_actor
from maintenance.forget import (
    Candidate,
    ForgetError,
    clients_forget,
    forget_candidates,
    policy_in_force,
    refusal_text,
)
from maintenance.management.commands.archive import confirmed

COMMAND = "manage.py forget_clients"


class Command(OperatorCommand):
    help = (
        "Forgetting on time: list the clients with no visit, purchase, debt or signed form for the "
        "retention period (the retention policy 'clients-forget', else RETENTION_FORGET_YEARS), with "
        "their last activity, then erase them with the same GDPR erasure as gdpr_erase (invoices kept "
        "anonymised, erasure ledger and audit kept). A client with money still owed, an upcoming "
        "booking or a usable bono or gift card is never listed. Refuses while the policy is off, "
        "unless --years is given. Asks first; --dry-run only lists. Each client is checked again, "
        "under a lock, just before their erasure: one who became active in between is left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List who would be forgotten and why; change nothing."
        )
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive", help="Do not ask.")
        parser.add_argument("--json", action="store_true", help="Print the list or the result as JSON.")
        parser.add_argument(
            "--years", type=int, metavar="N",
            help="No activity for N years, for this run (applies even when the policy is switched off).",
        )  # fmt: skip
        parser.add_argument(
            "--actor", metavar="EMAIL", help="The ADMIN carrying out the erasure, recorded in the audit trail."
        )

    def handle(self, *args, dry_run, interactive, json, years, actor, **options):
        staff = None
        if actor:
            refusal = _("%(email)s is not an active ADMIN: only they may erase a client's data.")
            staff = find_actor(actor, permission="crm.erase_client", refusal=refusal)
        try:
            policy = policy_in_force(years=years)
            now = timezone.now()
            before = policy.before(now)
            candidates = forget_candidates(before=before, now=now)
            if dry_run or not candidates:
                self._list(candidates, before, as_json=json, dry_run=dry_run)
                return
            if interactive:
                self._list(candidates, before, as_json=False, dry_run=True)
                question = ngettext(
                    "Erase this %(count)s client? This cannot be undone. [y/N] ",
                    "Erase these %(count)s clients? This cannot be undone. [y/N] ",
                    len(candidates),
                ) % {"count": len(candidates)}
                if not confirmed(input(question)):
                    raise CommandError(_("Nothing was changed."))
            ids = [candidate.client_id for candidate in candidates]
            result = clients_forget(before=before, ids=ids, actor=staff, actor_label=COMMAND, now=now)
        except (ForgetError, MaintenanceBusy) as exc:
            raise CommandError(str(exc)) from exc
        self._result(result, as_json=json)

    def _list(self, candidates: list[Candidate], before, *, as_json: bool, dry_run: bool) -> None:
        if as_json:
            payload = {"dry_run": dry_run, "before": before.isoformat(), "due": [c.as_dict() for c in candidates]}
            self.stdout.write(json.dumps(payload, indent=2))
            return
        since = formats.date_format(timezone.localtime(before), "SHORT_DATE_FORMAT")
        self.stdout.write(
            ngettext(
                "%(count)s client with no activity since %(date)s:",
                "%(count)s clients with no activity since %(date)s:",
                len(candidates),
            )
            % {"count": len(candidates), "date": since}
        )
        for candidate in candidates:
            when = formats.date_format(timezone.localtime(candidate.activity.when), "SHORT_DATE_FORMAT")
            self.stdout.write(f"  #{candidate.client_id:<8} {candidate.name:<40} {when:<12} {candidate.activity.label}")
        if dry_run:
            self.stdout.write(self.style.WARNING(_("Dry run: nothing was changed.")))

    def _result(self, result, *, as_json: bool) -> None:
        if as_json:
            payload = {
                "dry_run": False, "run": result.run_id, "before": result.before.isoformat(),
                "forgotten": [c.as_dict() for c in result.forgotten],
                "refused": [{"client_id": pk, "reasons": reasons} for pk, reasons in result.refused.items()],
            }  # fmt: skip
            self.stdout.write(json.dumps(payload, indent=2))
        else:
            for pk, reasons in result.refused.items():
                self.stdout.write(
                    self.style.WARNING(
                        _("Client #%(id)s left alone: no longer due (%(why)s).")
                        % {"id": pk, "why": refusal_text(reasons)}
                    )
                )
            count = len(result.forgotten)
            self.stdout.write(
                self.style.SUCCESS(
                    ngettext(
                        "%(count)s client forgotten (erased); recorded in the erasure ledger.",
                        "%(count)s clients forgotten (erased); recorded in the erasure ledger.",
                        count,
                    )
                    % {"count": count}
                )
            )
