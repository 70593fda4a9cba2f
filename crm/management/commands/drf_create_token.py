from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from beils.lib.commands import OperatorCommand
from crm.models import CrmError, User
from crm.services import api_token_issue


class Command(OperatorCommand):
    help = (
        "A new API token for a staff account (EMAIL), for scripts: send it as "
        "`Authorization: Bearer <token>`. The token is printed once, on the last line; Beils stores "
        "only its digest. It expires after API_TOKEN_TTL_HOURS and is revoked when the account is "
        "deactivated or changes role. Every token issued is audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", metavar="EMAIL", help="The staff account's e-mail.")
        # DRF's command had -r/--reset: every call now issues a new token, so it is accepted
        # and changes nothing, for scripts written against the old command.
        parser.add_argument("-r", "--reset", action="store_true", help="Accepted for compatibility; ignored.")

    def handle(self, *args, email, **options):
        user = User.all_objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(_("No staff account with the e-mail %(email)s.") % {"email": email})
        try:
            token, secret = api_token_issue(user=user, via="manage.py drf_create_token")
        except CrmError as error:
            raise CommandError(str(error)) from error
        if token.expiry:
            expiry = date_format(timezone.localtime(token.expiry), "SHORT_DATETIME_FORMAT")
            self.stdout.write(
                _("API token for %(email)s, expires %(expiry)s:") % {"email": user.email, "expiry": expiry}
            )
        else:
            self.stdout.write(_("API token for %(email)s, never expires:") % {"email": user.email})
        self.stdout.write(secret)
