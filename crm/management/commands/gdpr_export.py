from django.core.management.base import CommandError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from beils.lib.commands import OperatorCommand
from beils.lib.private import private_open
from crm.gdpr import client_data_stream, client_data_zip_write
from crm.models import Client, User


class Command(OperatorCommand):
    help = (
        "Everything Beils holds about one client (GDPR access and portability request): profile, "
        "consents, questionnaires, bookings, sales (live and archived), invoices, debts, bonos, gift "
        "cards and the audit entries about them, as one JSON document on stdout (or in FILE). With "
        "--zip, a ZIP of the JSON, one CSV per section and a manifest of SHA-256 checksums (needs -o). "
        "Every export is audited. CLIENT is the client's id or email."
    )

    def add_arguments(self, parser):
        parser.add_argument("client", metavar="CLIENT", help="The client's id or email.")
        parser.add_argument("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
        parser.add_argument("--zip", action="store_true", help="A ZIP with CSVs and a checksum manifest.")
        parser.add_argument(
            "--actor",
            metavar="EMAIL",
            help="The staff member answering the request (MANAGER or ADMIN), recorded in the audit trail.",
        )

    def handle(self, *args, client, output, zip, actor, **options):
        if zip and not output:
            raise CommandError(_("--zip writes a binary file: name it with -o FILE."))
        person = find_client(client)
        staff = find_actor(actor) if actor else "manage.py gdpr_export"
        if output is None:
            for chunk in client_data_stream(client=person, actor=staff, indent=2):
                self.stdout.write(chunk.decode(), ending="")
            self.stdout.write("")
            return
        # A person's data: for the operator's eyes only, and written as it is read.
        with private_open(output, "wb") as handle:
            if zip:
                client_data_zip_write(client=person, actor=staff, out=handle)
            else:
                for chunk in client_data_stream(client=person, actor=staff, indent=2):
                    handle.write(chunk)
                handle.write(b"\n")
            size = handle.tell()
        written = _("Client #%(id)s: %(size)s bytes written to %(file)s.") % {
            "id": person.pk,
            "size": number_format(size, force_grouping=True),
            "file": output,
        }
        self.stderr.write(self.style.SUCCESS(written))


def find_client(key: str) -> Client:
    lookup = {"pk": int(key)} if key.isdigit() else {"email": key.strip().lower()}
    try:
        return Client.all_objects.get(**lookup)
    except Client.DoesNotExist:
        raise CommandError(_("No client with id or email “%(key)s”.") % {"key": key}) from None


def find_actor(email: str, *, permission: str = "crm.export_client", refusal: str | None = None) -> User:
    """The active staff member named by ``email``, if they hold ``permission``; else
    ``refusal`` (with ``%(email)s``) as the command's error."""
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None or not user.has_perm(permission):
        refusal = refusal or _("%(email)s is not an active MANAGER or ADMIN: only they may export a client's data.")
        raise CommandError(refusal % {"email": email})
    return user
