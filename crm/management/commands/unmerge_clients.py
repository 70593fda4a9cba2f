import json

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from beils.lib.commands import OperatorCommand
from crm.management.commands.gdpr_erase import _records
from crm.management.commands.gdpr_export import find_actor
from crm.models import ClientMergeRecord, CrmError
from crm.unmerge import UNDO_PERMISSION, MergeUndo, client_merge_undo, client_merge_undo_preview, undo_refusal


class Command(OperatorCommand):
    help = (
        "Undo a merge of clients within MERGE_UNDO_DAYS: every sale, booking, debt, consent, "
        "questionnaire, bono and gift card the merge moved goes back to the client it came from, and "
        "the merged clients get their status and email back. Rows deleted or moved again since stay "
        "where they are, and are listed with the reason. Shows what will happen and asks first; "
        "--dry-run only shows it; --list lists the merges."
    )

    def add_arguments(self, parser):
        parser.add_argument("merge_id", metavar="MERGE_ID", nargs="?", help="The merge's number (see --list).")
        parser.add_argument(
            "--list",
            action="store_true",
            dest="list_merges",
            help="List the latest merges and whether each can be undone.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Show what would be undone; change nothing.")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive", help="Do not ask.")
        parser.add_argument("--json", action="store_true", help="Print the plan or the result as JSON.")
        parser.add_argument(
            "--actor", metavar="EMAIL", help="The ADMIN undoing the merge, recorded in the audit trail."
        )

    def handle(self, *args, merge_id, list_merges, dry_run, interactive, json, actor, **options):
        if list_merges:
            self._list(as_json=json)
            return
        if not merge_id:
            raise CommandError(_("Name the merge to undo (its number), or use --list."))
        merge = ClientMergeRecord.objects.filter(pk=int(merge_id) if merge_id.isdigit() else None).first()
        if merge is None:
            raise CommandError(_("There is no merge #%(id)s (see --list).") % {"id": merge_id})
        staff = "manage.py unmerge_clients"
        if actor:
            refusal = _("%(email)s is not an active ADMIN: only they may undo a merge.")
            staff = find_actor(actor, permission=UNDO_PERMISSION, refusal=refusal)
        try:
            plan = client_merge_undo_preview(merge=merge)
            if dry_run:
                self._report(plan, json, done=False)
                return
            if interactive:
                self._report(plan, False, done=False)
                question = _("Undo merge #%(id)s? Type 'yes' to continue: ") % {"id": merge.pk}
                if input(question).strip().lower() != "yes":
                    raise CommandError(_("Undo cancelled; nothing was changed."))
            self._report(client_merge_undo(merge=merge, actor=staff), json, done=True)
        except CrmError as error:
            raise CommandError(str(error)) from error

    def _list(self, *, as_json: bool) -> None:
        merges = ClientMergeRecord.objects.all()[:50]
        rows = [
            {
                "id": m.pk,
                "survivor_id": m.survivor_id,
                "merged_ids": m.merged_ids,
                "merged_at": m.merged_at.isoformat(),
                "rows": m.row_count,
                "undone": bool(m.undone_at),
                "refusal": undo_refusal(m),
            }
            for m in merges
        ]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write(_("No client merges yet."))
        for row in rows:
            line = _("#%(id)s  %(when)s  client #%(survivor)s kept, merged: %(merged)s, %(rows)s rows moved") % {
                "id": row["id"],
                "when": row["merged_at"][:16].replace("T", " "),
                "survivor": row["survivor_id"],
                "merged": ", ".join(f"#{pk}" for pk in row["merged_ids"]),
                "rows": row["rows"],
            }
            state = row["refusal"] or _("can be undone")
            self.stdout.write(f"{line}  [{state}]")

    def _report(self, plan: MergeUndo, as_json: bool, *, done: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({"undone": done, **plan.as_detail(), "notes": plan.notes()}, indent=2))
            return
        if done:
            self.stdout.write(self.style.SUCCESS(_("Undid merge #%(id)s.") % {"id": plan.merge_id}))
        else:
            self.stdout.write(_("Would undo merge #%(id)s:") % {"id": plan.merge_id})
        for label, count in plan.moved_back.items():
            text = ngettext("%(count)s row back to its client", "%(count)s rows back to their clients", count)
            self.stdout.write(f"  {_records(label)}: {text % {'count': count}}")
        if plan.consents_restored:
            count = len(plan.consents_restored)
            self.stdout.write(
                "  "
                + ngettext("%(count)s replaced consent recreated", "%(count)s replaced consents recreated", count)
                % {"count": count}
            )
        for line in plan.notes():
            self.stdout.write(self.style.WARNING(f"  {line}"))
