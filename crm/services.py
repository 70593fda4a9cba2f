"""Client operations that span models; the admin and the API call these."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from audit.services import audit_log
from beils.lib.models import Status
from crm.models import ApiToken, Client, ClientMergeRecord, Consent, ConsentStatus, CrmError, Revoke, User
from crm.models.merges import value_digest

#: Survivor fields filled from the merged clients when the survivor has none; a document's type
#: and number move together.
FILLABLE_FIELDS = (
    ("surname",),
    ("email",),
    ("phone",),
    ("address",),
    ("postal_code",),
    ("city",),
    ("country",),
    ("gender",),
    ("birth_date",),
    ("document_type", "document_number"),
    ("notes",),
)


@dataclass(frozen=True)
class ClientMerge:
    """What a merge moves (the preview) or moved (the result). Ids and counts only."""

    survivor_id: int
    merged_ids: list[int]
    #: Rows re-pointed to the survivor, by model label (``sales.cart``): only models with rows.
    moved: dict[str, int]
    #: Consents removed because the survivor keeps one consent per type (their revocations move
    #: to the consent that is kept).
    consents_replaced: list[int] = field(default_factory=list)
    #: Survivor fields that were empty and are taken from a merged client.
    filled_fields: list[str] = field(default_factory=list)

    def as_detail(self) -> dict:
        return {
            "survivor_id": self.survivor_id,
            "merged_ids": self.merged_ids,
            "moved": self.moved,
            "consents_replaced": self.consents_replaced,
            "filled_fields": self.filled_fields,
        }


def client_merge_preview(*, survivor: Client, duplicates: Sequence[Client]) -> ClientMerge:
    """What :func:`client_merge` would do, without changing anything."""
    duplicates = _refuse_impossible_merge(survivor, duplicates)
    ids = [client.pk for client in duplicates]
    return ClientMerge(
        survivor_id=survivor.pk,
        merged_ids=ids,
        moved=_moved_counts(ids),
        consents_replaced=sorted(dropped.pk for dropped, _ in _consent_conflicts(survivor, ids)),
        filled_fields=[name for name, _ in _blanks_to_fill(survivor, duplicates)],
    )


@transaction.atomic
def client_merge(*, survivor: Client, duplicates: Sequence[Client], actor: User | None) -> ClientMerge:
    """Merge ``duplicates`` into ``survivor``, all or nothing: every record that points at a
    duplicate (sales, bookings, debts, consents, questionnaires, revocations, bonos, gift cards,
    and whatever relation is added later) is re-pointed to the survivor; the survivor keeps one
    consent per type (the client's latest decision); its empty fields are filled from the
    duplicates; the duplicates are deactivated with a note naming the survivor; and the merge is
    audited as ``crm.client.merged``."""
    ids = sorted({client.pk for client in duplicates})
    # Lock every client involved, in one order, so that two merges or a merge and a sale cannot
    # interleave (a cart added to a duplicate after its rows were moved).
    locked = {
        client.pk: client
        for client in Client.all_objects.select_for_update().filter(pk__in=[survivor.pk, *ids]).order_by("pk")
    }
    survivor, duplicates = locked.get(survivor.pk, survivor), [locked[pk] for pk in ids if pk in locked]
    duplicates = _refuse_impossible_merge(survivor, duplicates)
    # Taken before anything moves: exactly what the merge is about to change, for an undo.
    record = _merge_record(survivor, duplicates, ids, actor)
    replaced = _keep_one_consent_per_type(survivor, ids)
    moved = _move_related_rows(survivor, ids)
    filled = _fill_blanks(survivor, duplicates)
    note = merged_note(survivor.pk)
    for duplicate in duplicates:
        duplicate.status = Status.OFF
        duplicate.notes = "\n".join(filter(None, [duplicate.notes, note]))
        duplicate.save()
    survivor.save()
    record.save()
    # Data minimisation: merges past their undo window keep ids only (checked on every merge).
    ClientMergeRecord.objects.past_undo().forget()
    result = ClientMerge(
        survivor_id=survivor.pk, merged_ids=ids, moved=moved, consents_replaced=replaced, filled_fields=filled
    )
    audit_log(
        action="crm.client.merged", actor=actor, target=survivor, detail={**result.as_detail(), "merge_id": record.pk}
    )
    return result


def merged_note(survivor_id: int) -> str:
    """The line a merge adds to a merged client's notes. Written in the salon's language: the
    note stays on the record whoever reads it later."""
    with translation.override(settings.LANGUAGE_CODE):
        return _("Merged into client #%(id)s.") % {"id": survivor_id}


# --- the steps ------------------------------------------------------------------------------


def _merge_record(survivor: Client, duplicates: Sequence[Client], ids: list[int], actor) -> ClientMergeRecord:
    """What :func:`crm.unmerge.client_merge_undo` needs to put everything back: every row that
    points at a duplicate (id and client), the duplicates' status, and in ``personal`` the email a
    duplicate gives up, digests of the values copied to the survivor and the consents replaced."""
    moved, dropped = {}, [consent for consent, _kept in _consent_conflicts(survivor, ids)]
    for relation in _client_relations():
        rows = _rows(relation, ids)
        if relation.related_model is Consent:  # deleted, not moved: recorded whole below
            rows = rows.exclude(pk__in=[consent.pk for consent in dropped])
        name = relation.field.name
        pairs = rows.values_list("pk", f"{name}__pk") if relation.many_to_many else rows.values_list("pk", name)
        pairs = sorted([pk, client_id] for pk, client_id in pairs if client_id in ids)
        if pairs:
            moved[relation.related_model._meta.label_lower] = pairs
    fills = _blanks_to_fill(survivor, duplicates)
    personal = {
        "emails": {str(source.pk): source.email for name, source in fills if name == "email"},
        "filled": {name: {"from": source.pk, "digest": value_digest(getattr(source, name))} for name, source in fills},
        "consents": [_consent_snapshot(consent) for consent in dropped],
    }
    note = merged_note(survivor.pk)
    return ClientMergeRecord(
        survivor_id=survivor.pk,
        merged_ids=ids,
        actor=actor if getattr(actor, "pk", None) else None,
        moved=moved,
        clients={str(d.pk): {"status": d.status, "note": note} for d in duplicates},
        personal=personal,
    )


def _consent_snapshot(consent: Consent) -> dict:
    return {
        "pk": consent.pk,
        "client": consent.client_id,
        "kind": consent.kind,
        "status": consent.status,
        "signed_at": consent.signed_at.isoformat() if consent.signed_at else None,
        "document_url": consent.document_url,
        "document": consent.document.name or None,
        "notes": consent.notes,
        "created_at": consent.created_at.isoformat(),
        "revokes": sorted(Revoke.objects.filter(consent=consent).values_list("pk", flat=True)),
    }


def _refuse_impossible_merge(survivor: Client, duplicates: Sequence[Client]) -> list[Client]:
    duplicates = list({client.pk: client for client in duplicates}.values())
    if not duplicates:
        raise CrmError(_("Choose at least one other client to merge into the one you keep."))
    if any(client.pk == survivor.pk for client in duplicates):
        raise CrmError(_("The client you keep cannot also be merged away."))
    if survivor.status != Status.ON:
        raise CrmError(
            _("%(client)s is deactivated: keep an active client, or reactivate this one first.") % {"client": survivor}
        )
    return duplicates


def _client_relations():
    """Every relation that points at a client, found from the model so that a relation added
    later is merged too."""
    return [rel for rel in Client._meta.related_objects if rel.one_to_many or rel.one_to_one or rel.many_to_many]


def _rows(relation, ids: list[int]) -> models.QuerySet:
    # The base manager: deactivated rows (an old gift card) belong to the person as well.
    return relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": ids})


def _moved_counts(ids: list[int]) -> dict[str, int]:
    counts = {}
    for relation in _client_relations():
        count = _rows(relation, ids).count()
        if count:
            counts[relation.related_model._meta.label_lower] = count
    return counts


def _move_related_rows(survivor: Client, ids: list[int]) -> dict[str, int]:
    moved = {}
    for relation in _client_relations():
        model, name = relation.related_model, relation.field.name
        _refuse_unique_relation(relation, survivor)
        rows = _rows(relation, ids)
        if relation.many_to_many:
            linked = list(rows.distinct())
            for row in linked:
                getattr(row, name).remove(*ids)
                getattr(row, name).add(survivor)
            count = len(linked)
        else:
            changes = {name: survivor}
            if any(f.name == "updated_at" for f in model._meta.concrete_fields):
                changes["updated_at"] = timezone.now()
            count = rows.update(**changes)
        if count:
            moved[model._meta.label_lower] = count
    return moved


def _refuse_unique_relation(relation, survivor: Client) -> None:
    """A relation unique per client would break on the move; Consent is resolved beforehand,
    any other one must be taught to the merge rather than fail in the database."""
    model, name = relation.related_model, relation.field.name
    if model is Consent:
        return
    unique_sets = [set(c.fields) for c in model._meta.constraints if isinstance(c, models.UniqueConstraint)]
    unique_sets += [set(fields) for fields in model._meta.unique_together]
    if relation.one_to_one or any(name in fields for fields in unique_sets):
        raise CrmError(
            _("%(records)s are unique per client and cannot be merged automatically yet.")
            % {"records": capfirst(model._meta.verbose_name_plural)}
        )


def _consent_conflicts(survivor: Client, ids: list[int]) -> list[tuple[Consent, Consent]]:
    """(dropped, kept) pairs: for each consent type held more than once, the client's latest
    decision is kept (a signature or a revocation over an unsigned form; between two decisions,
    the most recent), and on a tie the survivor's own."""
    consents = Consent.objects.filter(client_id__in=[survivor.pk, *ids]).annotate(
        last_revoked=Max("revokes__revoked_at")
    )
    by_kind = defaultdict(list)
    for consent in consents.order_by("pk"):
        by_kind[consent.kind].append(consent)
    pairs = []
    for group in by_kind.values():
        if len(group) > 1:
            kept = max(group, key=lambda consent: _decision_rank(consent, survivor))
            pairs += [(consent, kept) for consent in group if consent is not kept]
    return pairs


def _decision_rank(consent: Consent, survivor: Client) -> tuple:
    never = datetime.min.replace(tzinfo=UTC)
    if consent.status == ConsentStatus.SIGNED:
        decided_at = consent.signed_at or never
    elif consent.status == ConsentStatus.REVOKED:
        decided_at = consent.last_revoked or consent.updated_at
    else:
        decided_at = never
    return (consent.status != ConsentStatus.UNSIGNED, decided_at, consent.client_id == survivor.pk)


def _keep_one_consent_per_type(survivor: Client, ids: list[int]) -> list[int]:
    pairs = _consent_conflicts(survivor, ids)
    for dropped, kept in pairs:
        # The revocation is history of the person's decisions: it stays, on the consent kept.
        Revoke.objects.filter(consent=dropped).update(consent=kept, updated_at=timezone.now())
    Consent.objects.filter(pk__in=[dropped.pk for dropped, _ in pairs]).delete()
    return sorted(dropped.pk for dropped, _ in pairs)


def _blanks_to_fill(survivor: Client, duplicates: Sequence[Client]) -> list[tuple[str, Client]]:
    fills, taken = [], set()
    for names in FILLABLE_FIELDS:
        if any(getattr(survivor, name) not in (None, "") for name in names):
            continue
        source = next((d for d in duplicates if any(getattr(d, n) not in (None, "") for n in names)), None)
        if source is not None and names not in taken:
            taken.add(names)
            fills += [(name, source) for name in names]
    return fills


def _fill_blanks(survivor: Client, duplicates: Sequence[Client]) -> list[str]:
    fills = _blanks_to_fill(survivor, duplicates)
    for name, source in fills:
        setattr(survivor, name, getattr(source, name))
        if name == "email":
            # Emails are unique: the merged client gives its address up (saved before the survivor).
            source.email = None
    return [name for name, _ in fills]


# --- Consents -------------------------------------------------------------------------------


@transaction.atomic
def consent_sign(
    *,
    consent: Consent,
    actor: User | None,
    when: datetime | None = None,
    document=None,
    document_url: str | None = None,
) -> Consent:
    """Record the client's signature (see :meth:`Consent.sign` for the rules), under a row lock
    so that a signature and a revocation of the same consent cannot interleave; audited as
    ``crm.consent.signed``."""
    locked = Consent.objects.select_for_update().get(pk=consent.pk)
    locked.sign(when=when, document=document, document_url=document_url)
    audit_log(action="crm.consent.signed", actor=actor, target=locked, detail={"client_id": locked.client_id})
    return locked


@transaction.atomic
def consent_revoke(*, consent: Consent, actor: User | None, reason: str = "", when: datetime | None = None) -> Revoke:
    """Revoke the consent and link the revocation to it, in one transaction (see
    :meth:`Consent.revoke`); audited as ``crm.consent.revoked``."""
    locked = Consent.objects.select_for_update().get(pk=consent.pk)
    revoke = locked.revoke(reason, when=when)
    audit_log(
        action="crm.consent.revoked",
        actor=actor,
        target=locked,
        detail={"client_id": locked.client_id, "revoke_id": revoke.pk},
    )
    return revoke


# --- Staff accounts -----------------------------------------------------------------------------


def user_role_audit(*, user: User, previous_role: str | None, actor, ip_address: str | None = None) -> None:
    """Record a change of a staff member's role (their permissions) in the audit trail; the
    admin and the API call it after saving the account. Nothing is recorded when the role stayed."""
    if previous_role is None or previous_role == user.role:
        return
    audit_log(
        action="crm.user.role_changed", actor=actor, target=user, ip_address=ip_address,
        detail={"from": previous_role, "to": user.role},
    )  # fmt: skip


# --- API tokens -----------------------------------------------------------------------------


def api_token_issue(*, user: User, via: str, ip_address: str | None = None) -> tuple[ApiToken, str]:
    """A new token for ``user``: the stored row and the secret, which exists only in this return
    value (the database keeps its digest). Refused for a switched-off account."""
    if not user.is_active:
        raise CrmError(_("%(email)s is deactivated: no API token.") % {"email": user.email})
    with transaction.atomic():
        token, secret = ApiToken.objects.create(user=user)
        # The non-secret prefix only: the audit trail must never be a way to a token.
        audit_log(
            action="crm.token.issued",
            actor=user,
            target=user,
            ip_address=ip_address,
            detail={"prefix": token.prefix, "expiry": token.expiry.isoformat() if token.expiry else None, "via": via},
        )
    return token, secret


def api_token_revoke(*, tokens: models.QuerySet, actor, ip_address: str | None = None) -> int:
    """Revoke (delete) these tokens; one audit entry per holder, with the prefixes only."""
    with transaction.atomic():
        rows = list(tokens.select_related("user"))
        ApiToken.objects.filter(pk__in=[token.pk for token in rows]).delete()
        by_user = defaultdict(list)
        for token in rows:
            by_user[token.user].append(token.prefix)
        for holder, prefixes in by_user.items():
            audit_log(
                action="crm.token.revoked", actor=actor, target=holder, ip_address=ip_address,
                detail={"count": len(prefixes), "reason": "revoked", "prefixes": prefixes},
            )  # fmt: skip
    return len(rows)
