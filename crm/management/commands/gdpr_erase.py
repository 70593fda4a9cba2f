import json

from django.apps import apps
from django.core.management.base import CommandError
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy

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
            refusal = _("%(email)s is not an active ADMIN: only they may erase a client's data.")
            staff = find_actor(actor, permission="crm.erase_client", refusal=refusal)
        plan = client_erase_preview(client=person)
        if dry_run:
            self._report(plan, json, done=False)
            return
        if interactive:
            self._report(plan, False, done=False)
            question = _("Erase client #%(id)s? This cannot be undone. Type 'yes' to continue: ") % {"id": person.pk}
            if input(question).strip().lower() != "yes":
                raise CommandError(_("Erasure cancelled; nothing was changed."))
        self._report(client_erase(client=person, actor=staff), json, done=True)

    def _line(self, records: str, text: str, count: int) -> None:
        self.stdout.write(f"  {records}: {text % {'count': count}}")

    def _report(self, plan: ErasurePlan, as_json: bool, *, done: bool) -> None:
        if as_json:
            self.stdout.write(json_dumps({"erased": done, **plan.as_detail()}))
            return
        self.stdout.write(_headline(plan, done=done) % {"id": plan.client_id})
        for label, count in plan.deleted.items():
            self._line(_records(label), ngettext("%(count)s row deleted", "%(count)s rows deleted", count), count)
        for label, count in plan.anonymised.items():
            self._line(_records(label), ngettext("%(count)s row anonymised", "%(count)s rows anonymised", count), count)
        for label, count in plan.scrubbed.items():
            text = ngettext("%(count)s history version deleted", "%(count)s history versions deleted", count)
            self._line(_records(label), text, count)
        for text, count in (
            (ngettext_lazy("%(count)s upcoming booking cancelled", "%(count)s upcoming bookings cancelled", "count"),
             plan.cancelled_bookings),
            (ngettext_lazy("%(count)s uploaded document removed", "%(count)s uploaded documents removed", "count"),
             len(plan.files)),
            (ngettext_lazy("%(count)s admin log entry redacted", "%(count)s admin log entries redacted", "count"),
             plan.admin_log_entries),
            (ngettext_lazy("the files of %(count)s import or export job removed",
                           "the files of %(count)s import or export jobs removed", "count"), plan.job_files),
        ):  # fmt: skip
            if count:
                self.stdout.write("  " + text % {"count": count})
        if plan.merged_clients:
            text = ngettext(
                "%(count)s older client record merged into this one (the same person), erased as well: %(ids)s",
                "%(count)s older client records merged into this one (the same person), erased as well: %(ids)s",
                len(plan.merged_clients),
            )
            ids = ", ".join(f"#{pk}" for pk in plan.merged_clients)
            self.stdout.write("  " + text % {"count": len(plan.merged_clients), "ids": ids})
        if done:
            self.stdout.write(
                self.style.SUCCESS(_("Recorded in the erasure ledger; it will be re-applied after any restore."))
            )


def _records(label: str) -> str:
    """``sales.Cart`` as people call it: "Ventas"."""
    return capfirst(apps.get_model(label)._meta.verbose_name_plural)


def _headline(plan: ErasurePlan, *, done: bool) -> str:
    if plan.client_deleted:
        if done:
            return _("Erased client #%(id)s: the client row is deleted (no business history).")
        return _("Would erase client #%(id)s: the client row would be deleted (no business history).")
    if done:
        return _("Erased client #%(id)s: the client row is anonymised (business history kept).")
    return _("Would erase client #%(id)s: the client row would be anonymised (business history kept).")


def json_dumps(data) -> str:
    return json.dumps(data, indent=2)
