"""The strings of third-party apps that ship no Spanish catalogue (django-axes: its lockout
records in the System section). Marked here, never imported: ``makemessages`` puts them in the
root catalogue, where the apps' own lazy strings find their Spanish at run time."""

from django.utils.translation import gettext_noop as _

AXES = [
    _("access attempt"),
    _("access attempts"),
    _("access failure"),
    _("access failures"),
    _("access log"),
    _("access logs"),
    _("access attempt expiration"),
    _("access attempt expirations"),
    _("Access Attempt"),
    _("Access lock out"),
    _("Attempt Time"),
    _("Expires At"),
    _("The time when access attempt expires and is no longer valid."),
    _("Failed Logins"),
    _("Form Data"),
    _("GET Data"),
    _("POST Data"),
    _("HTTP Accept"),
    _("IP Address"),
    _("Logout Time"),
    _("Meta Data"),
    _("Path"),
    _("Session key hash (sha256)"),
    _("User Agent"),
    _("Username"),
    _("Locked Out"),
    _("Clean up expired attempts"),
    _("Not set"),
    _("Attempt Remaining"),
    _("Account locked: too many login attempts. Please try again later."),
    _("Account locked: too many login attempts. Contact an admin to unlock your account."),
]
