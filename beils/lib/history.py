"""Field-level history (django-simple-history): the admin's "History" page and the scrub that
GDPR erasure calls.

Kept here, not in one app, because history is on models of several apps (clients and consents,
invoices, bookings) and erasure scrubs all of them with the same function.

What history does not see: ``QuerySet.update()`` and bulk writes skip the model signals, so a
change made that way (a merge re-pointing rows, ``anonymise_customer``) leaves no historical row.
"""

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils.translation import gettext as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.utils import get_history_model_for_model

__all__ = ["HistoryAdmin", "history_scrub"]


class HistoryAdmin(SimpleHistoryAdmin):
    """The admin's "History" page lists every change with who made it and what changed.

    History is a record, not an undo button: reverting to an old version would bypass the
    services (a consent revoked without its revocation, an issued invoice rewritten), so the
    revert form is read-only here whatever the settings say.
    """

    history_list_per_page = 50

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied(_("History is read-only: change the record itself instead."))
        return super().history_form_view(request, object_id, version_id, extra_context)


@transaction.atomic
def history_scrub(instance: models.Model) -> int:
    """Delete every historical row of ``instance`` (which may itself be gone already) and return
    how many were deleted. For erasure: the historical rows hold the personal values the live row
    no longer has. Works on any model with ``HistoricalRecords``."""
    history_model = get_history_model_for_model(instance)
    pk_name = type(instance)._meta.pk.attname
    deleted, _ = history_model.objects.filter(**{pk_name: instance.pk}).delete()
    return deleted
