import secrets
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from beils.lib.commands import OperatorCommand
from beils.lib.private import write_private_text
from crm.models import Role, User

CREDENTIALS_FILE = Path(settings.VAR_DIR) / "demo-admin.txt"


class Command(OperatorCommand):
    help = (
        "Make sure the demo admin account exists and can log in, and print its email and password. "
        "The password is generated once and kept in var/demo-admin.txt (mode 0600). For demos only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, email, **options):
        password = self.stored_password() or secrets.token_urlsafe(12)
        user = User.all_objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, password, name="Ana", surname="Admin", role=Role.ADMIN)
        elif not user.check_password(password) or user.role != Role.ADMIN or not user.is_active:
            user.set_password(password)
            user.role = Role.ADMIN
            user.reactivate()
            user.save()
        CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
        write_private_text(CREDENTIALS_FILE, f"{email}\n{password}\n")
        self.stdout.write(self.style.SUCCESS(_("Demo admin ready at http://localhost:8000/admin/")))
        self.stdout.write(_("  email:    %(email)s\n  password: %(password)s") % {"email": email, "password": password})

    def stored_password(self) -> str | None:
        if CREDENTIALS_FILE.exists():
            lines = CREDENTIALS_FILE.read_text().splitlines()
            return lines[1] if len(lines) > 1 else None
        return None
