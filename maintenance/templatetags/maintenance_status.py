"""``{% maintenance_status as status %}`` for the admin index: the open alerts and the link to
the maintenance dashboard, for the people allowed to see them (one query)."""

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag(takes_context=True)
def maintenance_status(context) -> dict:
    from maintenance.models import Alert

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("backups.view_backup"):
        return {"visible": False}
    return {"visible": True, "alerts": list(Alert.objects.open().order_by("-opened_at")[:10])}


@register.simple_tag
def chart_words() -> dict:
    """The maintenance dashboard's chart legends, in the reader's language."""
    return {
        "size": _("size (MB)"), "took": _("took (s)"), "failed": _("failed"), "data": _("data (MB)"),
        "indexes": _("indexes (MB)"), "used": _("used %"), "free": _("free %"),
    }  # fmt: skip
