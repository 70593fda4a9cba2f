"""Undoing a client merge: every row the merge moved goes back to the client it came from.

``client_merge`` writes a :class:`~crm.models.ClientMergeRecord` in its own transaction; an ADMIN
may reverse it for ``MERGE_UNDO_DAYS``. Rows that changed since in a way that makes moving them
back wrong stay where they are, and the result says which and why:

- a row deleted since (a consent revoked and removed, a questionnaire deleted);
- a row now on a client other than the survivor (a later merge moved it: undo that one first);
- a consent whose original client holds another consent of the same type since.

The merged clients get their status and the email they gave up back (unless another client took
the address since); the survivor's fields the merge filled are emptied only while they still hold
what the merge put there (a digest tells, without keeping the value); the consents the merge
replaced are recreated with their revocations. A GDPR erasure of any client of the merge clears
the record's personal part, and the merge can no longer be undone.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.apps import apps
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from audit.services import audit_log
from crm.models import Client, ClientMergeRecord, Consent, CrmError, Revoke, Status
from crm.models.merges import value_digest
from crm.services import FILLABLE_FIELDS, _client_relations

UNDO_PERMISSION = "crm.undo_clientmergerecord"
UNDONE_ACTION = "crm.client.merge_undone"


@dataclass
class Unmovable:
    """A row that stays where it is, and why (``reason`` is a code; :meth:`text` says it)."""

    model: str  # app.model label
    row_id: int
    client_id: int  # the client it came from
    reason: str  # "deleted", "moved", "consent_taken"
    now_client_id: int | None = None
    later_merge_id: int | None = None

    def text(self) -> str:
        what = capfirst(_("%(record)s #%(id)s") % {"record": _verbose_name(self.model), "id": self.row_id})
        if self.reason == "deleted":
            return _("%(what)s was deleted since the merge.") % {"what": what}
        if self.reason == "consent_taken":
            return _("%(what)s stays: client #%(client)s has another consent of that type since.") % {
                "what": what,
                "client": self.client_id,
            }
        if self.later_merge_id:
            return _("%(what)s was moved to client #%(now)s by merge #%(merge)s: undo that merge first.") % {
                "what": what,
                "now": self.now_client_id,
                "merge": self.later_merge_id,
            }
        return _("%(what)s belongs to client #%(now)s since the merge and stays there.") % {
            "what": what,
            "now": self.now_client_id,
        }

    def as_detail(self) -> dict:
        return {
            "model": self.model,
            "id": self.row_id,
            "client_id": self.client_id,
            "reason": self.reason,
            "now_client_id": self.now_client_id,
            "later_merge_id": self.later_merge_id,
        }


@dataclass
class MergeUndo:
    """What undoing a merge does (the preview) or did (the result). Ids and counts only."""

    merge_id: int
    survivor_id: int
    merged_ids: list[int]
    #: {label: {row id: client id}}: the rows going back.
    back: dict[str, dict[int, int]] = field(default_factory=dict)
    unmovable: list[Unmovable] = field(default_factory=list)
    consents_restored: list[int] = field(default_factory=list)  # replaced consents recreated
    consents_not_restored: list[int] = field(default_factory=list)  # the client holds that type again
    fields_cleared: list[str] = field(default_factory=list)
    fields_kept: list[str] = field(default_factory=list)  # changed since the merge: left as they are
    emails_restored: list[int] = field(default_factory=list)  # client ids
    emails_not_restored: dict[int, int | None] = field(default_factory=dict)  # client id: holder now

    @property
    def moved_back(self) -> dict[str, int]:
        return {label: len(rows) for label, rows in self.back.items() if rows}

    def as_detail(self) -> dict:
        return {
            "merge_id": self.merge_id,
            "survivor_id": self.survivor_id,
            "merged_ids": self.merged_ids,
            "moved_back": self.moved_back,
            "unmovable": [row.as_detail() for row in self.unmovable],
            "consents_restored": self.consents_restored,
            "consents_not_restored": self.consents_not_restored,
            "fields_cleared": self.fields_cleared,
            "fields_kept": self.fields_kept,
            "emails_restored": self.emails_restored,
            "emails_not_restored": {str(k): v for k, v in self.emails_not_restored.items()},
        }

    def notes(self) -> list[str]:
        """Everything that will not be as it was, in words."""
        lines = [row.text() for row in self.unmovable]
        for client_id, holder in self.emails_not_restored.items():
            if holder:
                lines.append(
                    _("Client #%(id)s does not get its email back: client #%(holder)s uses it now.")
                    % {"id": client_id, "holder": holder}
                )
            else:
                lines.append(
                    _("Client #%(id)s does not get its old email back: it has another one since.") % {"id": client_id}
                )
        for name in self.fields_kept:
            lines.append(
                _("The kept client's %(field)s was changed since the merge and stays as it is.")
                % {"field": Client._meta.get_field(name).verbose_name}
            )
        for pk in self.consents_not_restored:
            lines.append(
                _("Replaced consent #%(id)s is not recreated: its client holds a consent of that type now.")
                % {"id": pk}
            )
        return lines


# --- The service -----------------------------------------------------------------------------


def client_merge_undo_preview(*, merge: ClientMergeRecord) -> MergeUndo:
    """What :func:`client_merge_undo` would do, changing nothing; raises :class:`CrmError` when
    the merge cannot be undone."""
    _refuse(merge)
    clients = Client.all_objects.in_bulk(merge.client_ids)
    return _plan(merge, clients)


def client_merge_undo(*, merge: ClientMergeRecord, actor) -> MergeUndo:
    """Undo ``merge`` all or nothing, audited as ``crm.client.merge_undone``. ADMIN only (the
    ``crm.undo_clientmergerecord`` permission); ``actor`` None or a label (``"manage.py
    unmerge_clients"``) is the operator's command line."""
    if actor is not None and not isinstance(actor, str) and not actor.has_perm(UNDO_PERMISSION):
        raise CrmError(_("Only an ADMIN may undo a merge of clients."))
    with transaction.atomic():
        merge = ClientMergeRecord.objects.select_for_update().get(pk=merge.pk)
        # The clients in the order client_merge locks them: a merge and an undo cannot interleave.
        clients = Client.all_objects.select_for_update().filter(pk__in=merge.client_ids).order_by("pk")
        clients = {client.pk: client for client in clients}
        _refuse(merge, clients)
        plan = _plan(merge, clients)
        _apply(merge, plan, clients)
        merge.undone_at, merge.undone_by = timezone.now(), None if isinstance(actor, str) else actor
        merge.personal = {}  # no longer needed: the email is back on its client
        merge.save(update_fields=["undone_at", "undone_by", "personal"])
        audit_log(action=UNDONE_ACTION, actor=actor, target=clients[merge.survivor_id], detail=plan.as_detail())
    return plan


def merge_records_expire() -> int:
    """Clear the personal part of the merges past ``MERGE_UNDO_DAYS`` (they stand; the record
    keeps ids only). Run every night by the cleanup, and at each merge. Returns how many."""
    return ClientMergeRecord.objects.past_undo().forget()


def undo_refusal(merge: ClientMergeRecord, clients: dict[int, Client] | None = None) -> str | None:
    """Why ``merge`` cannot be undone now, or None."""
    if merge.undone_at:
        return _("This merge was already undone on %(date)s.") % {"date": _when(merge.undone_at)}
    if timezone.now() > merge.undo_deadline:
        return _("A merge can be undone for %(days)s days; this one could be undone until %(date)s.") % {
            "days": (merge.undo_deadline - merge.merged_at).days,
            "date": _when(merge.undo_deadline),
        }
    clients = Client.all_objects.in_bulk(merge.client_ids) if clients is None else clients
    deleted = [pk for pk in merge.client_ids if pk not in clients]
    if deleted and not merge.forgotten_at:
        return _("Client #%(id)s was deleted after the merge: the merge can no longer be undone.") % {"id": deleted[0]}
    gone = [pk for pk in merge.client_ids if pk not in clients or clients[pk].erased_at]
    if gone or merge.forgotten_at:
        return _(
            "Client #%(id)s's personal data was erased (GDPR) after the merge: the merge can no longer be undone."
        ) % {"id": gone[0] if gone else merge.survivor_id}
    return None


def _refuse(merge: ClientMergeRecord, clients: dict[int, Client] | None = None) -> None:
    if reason := undo_refusal(merge, clients):
        raise CrmError(reason)


# --- Planning --------------------------------------------------------------------------------


def _plan(merge: ClientMergeRecord, clients: dict[int, Client]) -> MergeUndo:
    plan = MergeUndo(merge_id=merge.pk, survivor_id=merge.survivor_id, merged_ids=list(merge.merged_ids))
    relations = {rel.related_model._meta.label_lower: rel for rel in _client_relations()}
    later = None
    for label, pairs in merge.moved.items():
        relation = relations.get(label)
        name = relation.field.name if relation else None
        now = dict(_current_clients(relation, [pk for pk, _from in pairs])) if relation else {}
        plan.back[label] = {}
        for pk, origin in pairs:
            holder = now.get(pk, "missing")
            if holder == "missing":
                plan.unmovable.append(Unmovable(label, pk, origin, "deleted"))
            elif holder in (merge.survivor_id, origin):
                plan.back[label][pk] = origin
            else:
                later = _later_merges(merge) if later is None else later
                merge_id = next((m.pk for m in later if [pk, merge.survivor_id] in m.moved.get(label, [])), None)
                plan.unmovable.append(Unmovable(label, pk, origin, "moved", holder, merge_id))
        if name and label == "crm.consent":
            _keep_consents_that_would_clash(plan)
    personal = merge.personal or {}
    _plan_consents(plan, personal.get("consents", []))
    _plan_fields(plan, clients[merge.survivor_id], personal.get("filled", {}))
    _plan_emails(plan, clients, personal.get("emails", {}))
    return plan


def _current_clients(relation, pks: list[int]) -> list[tuple[int, int | None]]:
    name = relation.field.name
    rows = relation.related_model._base_manager.filter(pk__in=pks)
    if relation.many_to_many:
        # A row linked to several clients: the survivor counts, if it is one of them.
        found = {}
        for pk, client_id in rows.values_list("pk", f"{name}__pk"):
            found[pk] = client_id if found.get(pk) is None else found[pk]
        return list(found.items())
    return list(rows.values_list("pk", name))


def _later_merges(merge: ClientMergeRecord) -> list[ClientMergeRecord]:
    later = ClientMergeRecord.objects.filter(merged_at__gte=merge.merged_at, undone_at=None).exclude(pk=merge.pk)
    return [record for record in later.only("pk", "merged_ids", "moved") if merge.survivor_id in record.merged_ids]


def _keep_consents_that_would_clash(plan: MergeUndo) -> None:
    """One consent per client and type: a consent going back to a client that has signed (or
    refused) that type again since stays with the survivor."""
    going = plan.back.get("crm.consent", {})
    if not going:
        return
    kinds = dict(Consent.objects.filter(pk__in=going).values_list("pk", "kind"))
    held = set(Consent.objects.filter(client_id__in=set(going.values())).values_list("client_id", "kind"))
    for pk, origin in list(going.items()):
        if (origin, kinds[pk]) in held and Consent.objects.filter(pk=pk, client_id=origin).count() == 0:
            del going[pk]
            plan.unmovable.append(Unmovable("crm.consent", pk, origin, "consent_taken"))


def _plan_consents(plan: MergeUndo, snapshots: list[dict]) -> None:
    going = plan.back.get("crm.consent", {})
    # After the move back: which (client, kind) pairs are held.
    held = {}
    for pk, client_id, kind in Consent.objects.values_list("pk", "client_id", "kind").filter(
        client_id__in=[plan.survivor_id, *plan.merged_ids]
    ):
        held[(going.get(pk, client_id), kind)] = pk
    for snapshot in snapshots:
        if (snapshot["client"], snapshot["kind"]) in held:
            plan.consents_not_restored.append(snapshot["pk"])
        else:
            plan.consents_restored.append(snapshot["pk"])
            held[(snapshot["client"], snapshot["kind"])] = snapshot["pk"]


def _plan_fields(plan: MergeUndo, survivor: Client, filled: dict) -> None:
    for names in FILLABLE_FIELDS:
        if not all(name in filled for name in names):
            continue
        unchanged = all(value_digest(getattr(survivor, name)) == filled[name]["digest"] for name in names)
        (plan.fields_cleared if unchanged else plan.fields_kept).extend(names)


def _plan_emails(plan: MergeUndo, clients: dict[int, Client], emails: dict) -> None:
    survivor = clients[plan.survivor_id]
    for client_id, email in ((int(k), v) for k, v in emails.items()):
        if clients[client_id].email:
            plan.emails_not_restored[client_id] = None
            continue
        holder = Client.all_objects.filter(email__iexact=email).exclude(pk=client_id).values_list("pk", flat=True)
        holder = next(iter(holder), None)
        if holder == survivor.pk and "email" in plan.fields_cleared:
            holder = None  # the survivor gives it back first
        if holder:
            plan.emails_not_restored[client_id] = holder
        else:
            plan.emails_restored.append(client_id)


# --- Carrying it out -------------------------------------------------------------------------


def _apply(merge: ClientMergeRecord, plan: MergeUndo, clients: dict[int, Client]) -> None:
    relations = {rel.related_model._meta.label_lower: rel for rel in _client_relations()}
    now = timezone.now()
    for label, rows in plan.back.items():
        if not rows:  # nothing goes back (or the relation is gone since: every row is "deleted")
            continue
        relation = relations[label]
        model, name = relation.related_model, relation.field.name
        by_origin = {}
        for pk, origin in rows.items():
            by_origin.setdefault(origin, []).append(pk)
        for origin, pks in by_origin.items():
            if relation.many_to_many:
                for row in model._base_manager.filter(pk__in=pks):
                    getattr(row, name).remove(merge.survivor_id)
                    getattr(row, name).add(origin)
                continue
            changes = {name: origin}
            if any(f.name == "updated_at" for f in model._meta.concrete_fields):
                changes["updated_at"] = now
            model._base_manager.filter(pk__in=pks).update(**changes)
    _restore_consents(plan, (merge.personal or {}).get("consents", []))
    survivor = clients[merge.survivor_id]
    for name in plan.fields_cleared:
        setattr(survivor, name, None)
    survivor.save()  # first: it may give the email back
    emails = (merge.personal or {}).get("emails", {})
    for client_id in merge.merged_ids:
        client, state = clients[client_id], merge.clients.get(str(client_id), {})
        client.status = state.get("status", Status.ON)
        lines = [line for line in (client.notes or "").split("\n") if line != state.get("note")]
        client.notes = "\n".join(lines) or None
        if client_id in plan.emails_restored:
            client.email = emails[str(client_id)]
        client.save()


def _restore_consents(plan: MergeUndo, snapshots: list[dict]) -> None:
    for snapshot in snapshots:
        if snapshot["pk"] not in plan.consents_restored:
            continue
        taken = Consent.objects.filter(pk=snapshot["pk"]).exists()
        consent = Consent.objects.create(
            pk=None if taken else snapshot["pk"],
            client_id=snapshot["client"],
            kind=snapshot["kind"],
            status=snapshot["status"],
            signed_at=_parse(snapshot["signed_at"]),
            document_url=snapshot["document_url"],
            document=snapshot["document"] or None,
            notes=snapshot["notes"],
        )
        Revoke.objects.filter(pk__in=snapshot["revokes"]).update(consent=consent, updated_at=timezone.now())


# --- Helpers ---------------------------------------------------------------------------------


def _parse(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _verbose_name(label: str) -> str:
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except LookupError:
        return label
