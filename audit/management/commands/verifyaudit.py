import json

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.chain import audit_chain_verify
from beils.lib.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Verify the audit trail's hash chain: every entry's hash matches its contents, every entry "
        "links to the one before it (or to the stretch rotated away before it), and the newest "
        "entry is the one the chain's head names. Names the first broken link (id, time, action) "
        "and exits non-zero when anything is wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        report = audit_chain_verify()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.ok:
            intact = ngettext(
                "%(entries)s entry (%(rotated)s rotated away): the audit trail's hash chain is intact.",
                "%(entries)s entries (%(rotated)s rotated away): the audit trail's hash chain is intact.",
                report.entries,
            ) % {"entries": report.entries, "rotated": report.rotated}
            self.stdout.write(self.style.SUCCESS(intact))
        else:
            for problem in report.problems:
                self.stdout.write(self.style.ERROR(str(problem)))
        if not report.ok:
            problems = ngettext(
                "%(count)s problem in %(entries)s audit entries",
                "%(count)s problems in %(entries)s audit entries",
                len(report.problems),
            ) % {"count": len(report.problems), "entries": report.entries}
            raise CommandError(
                _("%(problems)s; first broken link: %(link)s.") % {"problems": problems, "link": report.first_broken}
            )
