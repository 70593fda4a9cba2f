import json

from django.core.management.base import CommandError

from beils.lib.commands import OperatorCommand
from crm.erasure import ErasurePlan, client_erase, client_erase_preview
from crm.management.commands.gdpr_export import find_actor, find_client


class Command(OperatorCommand):
    help = (
        "Erase a client's personal data (GDPR right to erasure). Consents, revocations and "
        "questionnaires are deleted with their uploaded documents; sales, invoices, debts and "
        "bookings, which the salon must keep, stay with the client's identity cleared; history "
        "versions are deleted and audit labels redacted. A client with no sales, bookings or debts "
        "is deleted outright. The erasure is recorded (ids only) in the erasure ledger and re-applied "
        "after any restore. Shows what will happen and asks first; --dry-run only shows it. "
        "CLIENT is the client's id or email."
    )

    def add_arguments(self, parser):
        parser.add_argument("client", metavar="CLIENT", help="The client's id or email.")
        parser.add_argument("--dry-run", action="store_true", help="Show what would be erased; change nothing.")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive", help="Do not ask.")
        parser.add_argument("--json", action="store_true", help="Print the plan or the result as JSON.")
        parser.add_argument(
            "--actor", metavar="EMAIL", help="The ADMIN carrying out the request, recorded in the audit trail."
        )

    def handle(self, *args, client, dry_run, interactive, json, actor, **options):
        person = find_client(client)
        staff = "manage.py gdpr_erase"
        if actor:
            staff = find_actor(actor, permission="crm.erase_client", who="ADMIN", verb="erase")
        plan = client_erase_preview(client=person)
        if dry_run:
            self._report(plan, json, done=False)
            return
        if interactive:
            self._report(plan, False, done=False)
            answer = input(f"Erase client #{person.pk}? This cannot be undone. Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Erasure cancelled; nothing was changed.")
        self._report(client_erase(client=person, actor=staff), json, done=True)

    def _report(self, plan: ErasurePlan, as_json: bool, *, done: bool) -> None:
        if as_json:
            self.stdout.write(json_dumps({"erased": done, **plan.as_detail()}))
            return
        verb = "Erased" if done else "Would erase"
        fate = "deleted (no business history)" if plan.client_deleted else "anonymised (business history kept)"
        self.stdout.write(f"{verb} client #{plan.client_id}: the client row is {fate}.")
        for title, counts in (("deleted", plan.deleted), ("anonymised", plan.anonymised)):
            for label, count in counts.items():
                self.stdout.write(f"  {label}: {count} row(s) {title}")
        for label, count in plan.scrubbed.items():
            self.stdout.write(f"  {label}: {count} history version(s) deleted")
        for text, count in (
            ("upcoming booking(s) cancelled", plan.cancelled_bookings),
            ("uploaded document(s) removed", len(plan.files)),
            ("admin log entr(ies) redacted", plan.admin_log_entries),
            ("import/export job file set(s) removed", plan.job_files),
        ):
            if count:
                self.stdout.write(f"  {count} {text}")
        if done:
            self.stdout.write(
                self.style.SUCCESS("Recorded in the erasure ledger; it will be re-applied after any restore.")
            )


def json_dumps(data) -> str:
    return json.dumps(data, indent=2)
