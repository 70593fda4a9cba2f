"""The record of a client merge: what moved, so that an ADMIN can undo it (crm.unmerge)."""

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ClientMergeRecordQuerySet(models.QuerySet):
    def past_undo(self):
        """Merges older than ``MERGE_UNDO_DAYS``: they stand, and need no personal data any more."""
        return self.filter(merged_at__lt=timezone.now() - timedelta(days=settings.MERGE_UNDO_DAYS))

    def forget(self) -> int:
        """Clear the personal part (the email given up, digests, replaced consents): ids stay."""
        return self.filter(forgotten_at=None).update(personal={}, forgotten_at=timezone.now())

    def merged_into(self, client_id: int) -> list[int]:
        """The clients merged into ``client_id``, and into those, by merges not undone, that
        still exist: the same person's older records. A GDPR export shows them with the client
        and an erasure erases them with the client."""
        from crm.models.clients import Client

        found: list[int] = []
        survivors = [client_id]
        while survivors:
            groups = self.filter(survivor_id__in=survivors, undone_at=None).values_list("merged_ids", flat=True)
            survivors = [pk for group in groups for pk in group if pk != client_id and pk not in found]
            found += survivors
        return list(Client.all_objects.filter(pk__in=found).order_by("pk").values_list("pk", flat=True))

    def involving(self, client_id: int):
        """Merges in which ``client_id`` was the survivor or a merged client. The merged ids are
        a JSON list: filtered here in Python, over the few merges of this survivor or all."""
        ids = [r.pk for r in self.only("pk", "survivor_id", "merged_ids") if r.involves(client_id)]
        return self.filter(pk__in=ids)


class ClientMergeRecord(models.Model):
    """One call of ``client_merge``: who was kept, who was merged, and the exact rows that moved.

    Clients are named by id, not by foreign key, on purpose: the merge re-points *every* relation
    to a client (a foreign key here would be moved by the next merge), and a GDPR erasure deletes a
    client without history outright (a PROTECT here would block it). ``personal`` holds the little
    personal data an undo needs (the email a merged client gave up, digests of the fields copied
    to the survivor, the consents replaced); erasing either client clears it and sets
    ``forgotten_at``, after which the merge can no longer be undone. So does the end of the undo
    window (checked on every merge), and the undo itself."""

    survivor_id = models.PositiveBigIntegerField(_("client kept"), db_index=True)
    merged_ids = models.JSONField(_("clients merged"), default=list)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merged by"),
    )
    merged_at = models.DateTimeField(_("merged at"), default=timezone.now, db_index=True)
    #: {"app.model": [[row id, client id it came from], ...]}
    moved = models.JSONField(_("rows moved"), default=dict)
    #: {"<client id>": {"status": "ON", "note": "Merged into client #5."}}: ids and codes only.
    clients = models.JSONField(_("merged clients' state"), default=dict)
    #: {"emails": {"<client id>": email}, "filled": {field: {"from": id, "digest": hmac}},
    #:  "consents": [{consent fields, "revokes": [ids]}]}; cleared by a GDPR erasure.
    personal = models.JSONField(_("data kept to undo"), default=dict, blank=True)
    forgotten_at = models.DateTimeField(_("personal data cleared at"), null=True, blank=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("undone by"),
    )

    objects = ClientMergeRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("client merge")
        verbose_name_plural = _("client merges")
        ordering = ["-merged_at", "-pk"]
        permissions = [("undo_clientmergerecord", _("Can undo a client merge"))]

    def __str__(self):
        return _("Merge #%(id)s into client #%(client)s") % {"id": self.pk, "client": self.survivor_id}

    def involves(self, client_id: int) -> bool:
        return client_id == self.survivor_id or client_id in self.merged_ids

    @property
    def client_ids(self) -> list[int]:
        return sorted({self.survivor_id, *self.merged_ids})

    @property
    def undo_deadline(self):
        return self.merged_at + timedelta(days=settings.MERGE_UNDO_DAYS)

    @property
    def row_count(self) -> int:
        return sum(len(pairs) for pairs in self.moved.values())


def value_digest(value) -> str:
    """A keyed digest of a value copied to the survivor: enough to tell, at undo time, whether
    the field still holds what the merge put there, without keeping the value itself."""
    message = "" if value is None else str(value)
    return hmac.new(settings.SECRET_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()
