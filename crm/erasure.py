"""GDPR erasure: a client's personal data deleted, their fiscal records kept anonymised, and a
ledger that re-applies every erasure after a restore.

The personal-data registry (``crm.personal_data``) decides what happens to each model:
``DELETE`` rows go (consents, revocations, questionnaires), ``ANONYMISE`` rows stay with their
registered fields cleared (sales, invoices, debts, bookings, the client row itself),
``SCRUB`` deletes the history tables' versions, and audit entries keep who did what but lose the
client's name. A client with no sales, bookings or debts is deleted outright.

**The erasure ledger** is kept outside the database, with ids only: the client's id and
creation time, and when. It has two homes, and it is their union: a file of JSON lines
(``ERASURE_LEDGER_PATH``, beside the backups by default), and one small object per erasure under
``erasure-ledger/`` in the default storage, which every machine shares (an S3 bucket when there
are several, ``settings.MEDIA_S3_BUCKET``). An erasure made on one web node is therefore known to
the ops host that restores. A backup taken before an erasure still holds the person;
:func:`erasure_replay` runs after every restore (``backups.signals.backup_restored``) and by
hand (``manage.py gdpr_replay``) and erases them again. The creation time guards against an id
reused after a restore: an entry applies only to the client it was written for.
"""

import fcntl
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from audit.models import AuditEntry
from audit.services import audit_log
from beils.lib.models import Status
from beils.lib.private import private_open
from bookings.models import BookingStatus
from crm.gdpr import audit_targets, client_rows
from crm.models import Client, ClientMergeRecord, CrmError
from crm.personal_data import REGISTRY, Erasure, Holder, holder_for

log = logging.getLogger(__name__)

ERASED_ACTION = "crm.client.erased"
REPLAYED_ACTION = "crm.client.erasure_replayed"
LEDGER_VERSION = 1


class ErasureError(CrmError):
    """An erasure that cannot be done as asked."""


@dataclass(frozen=True)
class Copies:
    """Copies of people's data that another app keeps outside the records (the files of import
    and export jobs), registered by that app with ``register_copies``. ``find(labels)`` lists
    the copies of data of those models that an erasure removes; ``remove(found)`` removes them,
    after the erasure commits. Which people a file holds is not known without reading it, so
    every copy of a model holding client data goes."""

    find: Callable[[list[str]], list]
    remove: Callable[[list], None]


COPIES: list[Copies] = []


def register_copies(copies: Copies) -> None:
    COPIES.append(copies)


@dataclass
class ErasurePlan:
    """What an erasure deletes, anonymises and scrubs, by model; the preview and the result."""

    client_id: int
    client_deleted: bool  # no business history: the client row itself goes
    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    scrubbed: dict[str, int] = field(default_factory=dict)  # history versions
    cancelled_bookings: int = 0  # upcoming appointments that will not happen
    files: list[str] = field(default_factory=list)  # uploaded documents removed from storage
    admin_log_entries: int = 0
    job_files: int = 0  # files of other apps that copy client data (``COPIES``: import/export jobs)
    #: The client records merged into this one (the same person's older records, deactivated):
    #: erased with it, each recorded in the ledger and audited on its own.
    merged_clients: list[int] = field(default_factory=list)

    def as_detail(self) -> dict:
        """Counts and ids only: the audit trail and the API never repeat the personal data."""
        return {
            "client_id": self.client_id,
            "client_deleted": self.client_deleted,
            "deleted": self.deleted,
            "anonymised": self.anonymised,
            "history_versions_scrubbed": self.scrubbed,
            "cancelled_bookings": self.cancelled_bookings,
            "files_removed": len(self.files),
            "admin_log_entries_redacted": self.admin_log_entries,
            "job_files_removed": self.job_files,
            "merged_clients_erased": self.merged_clients,
        }


# --- The service -----------------------------------------------------------------------------


def client_erase_preview(*, client: Client) -> ErasurePlan:
    """What :func:`client_erase` would do to ``client``, changing nothing."""
    plan = _plan(client, client_rows(client=client))
    plan.merged_clients = ClientMergeRecord.objects.merged_into(client.pk)
    return plan


def client_erase(*, client: Client, actor, ip_address: str | None = None) -> ErasurePlan:
    """Erase ``client``'s personal data, and that of the client records merged into it (the
    same person), record each erasure in the ledger and audit it as ``crm.client.erased`` (ids
    and counts only). Returns what was done to ``client``; ``merged_clients`` names the others."""
    plans = []
    with transaction.atomic():
        for pk in [client.pk, *ClientMergeRecord.objects.merged_into(client.pk)]:
            locked = Client.all_objects.select_for_update().get(pk=pk)
            created_at = locked.created_at
            plans.append(_erase(locked))
            # Written before the commit: should the commit fail, the ledger holds an erasure
            # the salon asked for, which a replay would carry out, never the reverse.
            ledger_append(client_id=pk, client_created_at=created_at)
    plan, merged = plans[0], plans[1:]
    plan.merged_clients = [other.client_id for other in merged]
    for done in plans:
        # The target as it reads now, "Erased client <id>", whether the row was anonymised or deleted.
        target = Client(pk=done.client_id, name=erased_name(done.client_id))
        audit_log(action=ERASED_ACTION, actor=actor, target=target, detail=done.as_detail(), ip_address=ip_address)
    return plan


def _erase(client: Client) -> ErasurePlan:
    rows = client_rows(client=client)
    plan = _plan(client, rows)
    _redact_audit(client, rows)
    _redact_admin_log(client, rows)
    _cancel_upcoming_bookings(client)
    copies = [(kind, kind.find(_client_data_labels())) for kind in COPIES]
    for holder in REGISTRY:
        if holder.erasure == Erasure.DELETE:
            _delete(holder, rows[holder.section])
        elif holder.erasure == Erasure.ANONYMISE and holder.model not in ("crm.Client", "audit.AuditEntry"):
            _anonymise(holder, rows[holder.section])
    if plan.client_deleted:
        client.delete()
    else:
        _anonymise_client(client)
    # Last: deleting the consents (and the client) has just written "-" versions to history.
    for holder in REGISTRY:
        if holder.erasure == Erasure.SCRUB:
            _scrub(holder, client, rows)
    transaction.on_commit(lambda: _remove_files(plan.files))
    for kind, found in copies:
        transaction.on_commit(lambda kind=kind, found=found: kind.remove(found))
    return plan


def _plan(client: Client, rows: dict[str, list[models.Model]]) -> ErasurePlan:
    plan = ErasurePlan(client_id=client.pk, client_deleted=not client.has_history())
    for holder in REGISTRY:
        found = rows[holder.section]
        if not found:
            continue
        label = holder.get_model()._meta.label
        if holder.erasure == Erasure.DELETE or (plan.client_deleted and holder.model == "crm.Client"):
            plan.deleted[label] = len(found)
        elif holder.erasure == Erasure.ANONYMISE:
            plan.anonymised[label] = len(found)
        elif holder.erasure == Erasure.SCRUB:
            plan.scrubbed[label] = len(found)
        if holder.erasure == Erasure.DELETE:
            plan.files += [f.name for row in found for f in _files(row) if f.name]
    plan.cancelled_bookings = _upcoming_bookings(client).count()
    plan.admin_log_entries = _admin_log_entries(client, rows).count()
    plan.job_files = sum(len(kind.find(_client_data_labels())) for kind in COPIES)
    return plan


# --- What happens to each kind of row --------------------------------------------------------


def _blank(model_field: models.Field):
    return None if model_field.null else ""


def _anonymise(holder: Holder, found: list[models.Model]) -> None:
    model = holder.get_model()
    pks = [row.pk for row in found]
    if model._meta.label == "sales.Invoice":
        # Issued invoices refuse QuerySet.update(); this is their one sanctioned change.
        model.objects.filter(pk__in=pks).anonymise_customer()
        return
    if model._meta.label == "crm.ClientMergeRecord":
        # Its personal part is a JSON object: emptied, and the record marked forgotten.
        model.objects.filter(pk__in=pks).forget()
        return
    values = {name: _blank(model._meta.get_field(name)) for name in holder.fields}
    model._base_manager.filter(pk__in=pks).update(**values)


def _anonymise_client(client: Client) -> None:
    # QuerySet.update: no historical version is written (history is scrubbed next anyway).
    values = {name: _blank(Client._meta.get_field(name)) for name in holder_for("crm.Client").fields}
    now = timezone.now()
    values |= {
        "name": erased_name(client.pk),
        "status": Status.OFF,
        "deactivated_at": client.deactivated_at or now,
        "erased_at": now,
        "updated_at": now,
    }
    Client.all_objects.filter(pk=client.pk).update(**values)


def erased_name(client_id: int) -> str:
    """What an erased client is called from then on. Stored, so in the salon's language (the
    language of ``settings.LANGUAGE_CODE``), whoever carried the erasure out."""
    with translation.override(settings.LANGUAGE_CODE):
        return _("Erased client %(id)s") % {"id": client_id}


def _erased_label(name: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("%(record)s (erased)") % {"record": name}


def _delete(holder: Holder, found: list[models.Model]) -> None:
    model = holder.get_model()
    model._base_manager.filter(pk__in=[row.pk for row in found]).delete()


def _scrub(holder: Holder, client: Client, rows: dict[str, list[models.Model]]) -> None:
    """Every version of every row held about the client: found through the registry's links now
    (versions written by this erasure included) and by the ids of the rows found at the start."""
    history = holder.get_model()
    live = holder_for(holder.history_of)
    pk_name = live.get_model()._meta.pk.attname
    condition = Q(**{f"{pk_name}__in": [row.pk for row in rows[live.section]]})
    for link in holder.links:
        if link in ("pk", "id"):
            condition |= Q(id=client.pk)
        elif " in " not in link:
            condition |= Q(**{link: client.pk})
    history._base_manager.filter(condition).delete()


def _files(row: models.Model):
    return [getattr(row, f.attname) for f in row._meta.concrete_fields if isinstance(f, models.FileField)]


def _remove_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # the file is gone already, or storage is read-only: reported, not fatal
            log.warning("erasure: could not remove %s from storage", name, exc_info=True)


def _upcoming_bookings(client: Client) -> models.QuerySet:
    return client.bookings.filter(start__gt=timezone.now(), status__in=[BookingStatus.PENDING, BookingStatus.CONFIRMED])


def _cancel_upcoming_bookings(client: Client) -> None:
    _upcoming_bookings(client).update(status=BookingStatus.CANCELLED, updated_at=timezone.now())


def _client_data_labels() -> list[str]:
    """The models that hold client data (``app_label.Model``), history tables left out."""
    return [holder.get_model()._meta.label for holder in REGISTRY if holder.history_of is None]


def _redact_audit(client: Client, rows: dict[str, list[models.Model]]) -> None:
    """The trail keeps every entry about the person and their records; labels lose the name."""
    entries = AuditEntry.objects.filter(audit_targets(client, rows))
    for target_type, target_id in entries.values_list("target_type", "target_id").distinct():
        entries.filter(target_type=target_type, target_id=target_id).redact(
            target_label=_erased_label(f"{target_type} #{target_id}")
        )


def _admin_log_entries(client: Client, rows: dict[str, list[models.Model]]) -> models.QuerySet:
    """The admin's own change log (``django_admin_log``) names each object by its ``str()``."""
    condition = Q(pk__in=[])
    for holder in REGISTRY:
        found = rows[holder.section]
        if found and holder.history_of is None and holder.model != "audit.AuditEntry":
            content_type = ContentType.objects.get_for_model(holder.get_model(), for_concrete_model=False)
            condition |= Q(content_type=content_type, object_id__in=[str(row.pk) for row in found])
    return LogEntry.objects.filter(condition)


def _redact_admin_log(client: Client, rows: dict[str, list[models.Model]]) -> None:
    entries = _admin_log_entries(client, rows)
    for content_type_id, object_id in entries.values_list("content_type_id", "object_id").distinct():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        with translation.override(settings.LANGUAGE_CODE):
            label = _erased_label(f"{model._meta.verbose_name} #{object_id}" if model else f"#{object_id}")
        entries.filter(content_type_id=content_type_id, object_id=object_id).update(object_repr=label[:200])


# --- The ledger ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    client_id: int
    client_created_at: datetime
    erased_at: datetime


def ledger_path() -> Path:
    return Path(settings.ERASURE_LEDGER_PATH)


def ledger_append(*, client_id: int, client_created_at: datetime) -> None:
    """Append one erasure to the ledger and flush it to disk before returning."""
    _ledger_write(client_id, client_created_at, timezone.now())


def _ledger_write(client_id: int, client_created_at: datetime, erased_at: datetime) -> None:
    path = ledger_path()
    # Created private, but an existing directory is left as the operator set it up.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    entry = LedgerEntry(client_id, client_created_at, erased_at)
    line = ledger_line(entry)
    with private_open(path, "a") as ledger:
        fcntl.flock(ledger, fcntl.LOCK_EX)
        ledger.write(line + "\n")
        ledger.flush()
        os.fsync(ledger.fileno())
    name = _shared_name(entry)
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(line.encode()))


def ledger_line(entry: LedgerEntry) -> str:
    return json.dumps({
        "v": LEDGER_VERSION, "client_id": entry.client_id,
        "client_created_at": entry.client_created_at.isoformat(), "erased_at": entry.erased_at.isoformat(),
    })  # fmt: skip


# --- the shared home: one object per erasure, the entry in its name (a listing reads them all) ---

SHARED_LEDGER = "erasure-ledger"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _shared_name(entry: LedgerEntry) -> str:
    return f"{SHARED_LEDGER}/{entry.client_id}-{_micros(entry.client_created_at)}-{_micros(entry.erased_at)}.json"


def _shared_entries() -> list[LedgerEntry]:
    try:
        _dirs, names = default_storage.listdir(SHARED_LEDGER)
    except FileNotFoundError:
        return []  # nothing erased yet on local disk (a bucket lists an empty prefix)
    entries = []
    for name in names:
        try:
            client_id, created, erased = (int(part) for part in name.removesuffix(".json").split("-"))
        except ValueError:
            raise ErasureError(_("%(file)s: not an erasure record.") % {"file": f"{SHARED_LEDGER}/{name}"}) from None
        moments = (_EPOCH + timedelta(microseconds=created), _EPOCH + timedelta(microseconds=erased))
        entries.append(LedgerEntry(client_id, *moments))
    return entries


def ledger_entries(path: Path | None = None) -> list[LedgerEntry]:
    """Every erasure recorded, oldest first: the live ledger (the file and the shared objects),
    or the ledger file at ``path`` (a backup set's copy). A missing ledger is an empty one."""
    if path is not None:
        return _file_entries(path)
    union: dict[tuple, LedgerEntry] = {}
    for entry in _file_entries(ledger_path()) + _shared_entries():
        key = (entry.client_id, entry.client_created_at)
        if key not in union or entry.erased_at < union[key].erased_at:
            union[key] = entry
    return sorted(union.values(), key=lambda entry: (entry.erased_at, entry.client_id))


def _file_entries(path: Path) -> list[LedgerEntry]:
    try:
        with open(path, encoding="utf-8") as ledger:
            fcntl.flock(ledger, fcntl.LOCK_SH)  # never half of a line being appended
            lines = ledger.read().splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            entries.append(
                LedgerEntry(
                    client_id=int(data["client_id"]),
                    client_created_at=datetime.fromisoformat(data["client_created_at"]),
                    erased_at=datetime.fromisoformat(data["erased_at"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ErasureError(
                _("%(file)s, line %(line)s: not an erasure record (%(error)s).")
                % {"file": path, "line": number, "error": exc}
            ) from exc
    return entries


def ledger_merge(path: Path) -> int:
    """Append to the live ledger the erasures recorded in the ledger at ``path`` (the copy that
    came back with an off-site backup) that it lacks; return how many. The live ledger may be
    lost with the disk, or older than the copy: the union is the newest knowledge there is."""
    known = {(entry.client_id, entry.client_created_at) for entry in ledger_entries()}
    added = 0
    for entry in ledger_entries(path):
        if (entry.client_id, entry.client_created_at) not in known:
            _ledger_write(entry.client_id, entry.client_created_at, entry.erased_at)
            known.add((entry.client_id, entry.client_created_at))
            added += 1
    return added


@dataclass
class Replay:
    entries: int = 0
    erased: list[int] = field(default_factory=list)  # present in the database: erased again
    returned: list[int] = field(default_factory=list)  # of those, the ones a restore had brought back whole
    absent: int = 0  # not in the database (deleted by the erasure, or never restored)
    reused_ids: list[int] = field(default_factory=list)  # the same id now names another client: left alone

    def as_detail(self) -> dict:
        return {
            "ledger_entries": self.entries,
            "erased_again": self.erased,
            "brought_back_by_restore": self.returned,
            "absent": self.absent,
            "ids_now_another_client": self.reused_ids,
        }


def erased_client_ids() -> set[int]:
    """The ids of every client erased here: in the ledger, or marked erased. What imports must
    never bring back (``legacy``)."""
    ids = {entry.client_id for entry in ledger_entries()}
    return ids | set(Client.all_objects.exclude(erased_at=None).values_list("pk", flat=True))


def erasure_replay(*, actor=None, dry_run: bool = False) -> Replay:
    """Re-apply every erasure in the ledger to the live database: after a restore, a backup
    older than an erasure has brought the person back, wholly or (a selective restore of the
    sales tables) in part. Erasing an erased client again changes nothing, so every client the
    ledger names is erased again. Audited once."""
    result = Replay()
    entries = ledger_entries()
    result.entries = len(entries)
    clients = Client.all_objects.in_bulk({entry.client_id for entry in entries})
    for entry in entries:
        client = clients.get(entry.client_id)
        if client is None:
            result.absent += 1
        elif client.created_at != entry.client_created_at:
            result.reused_ids.append(entry.client_id)
        else:
            result.erased.append(client.pk)
            if client.erased_at is None:
                result.returned.append(client.pk)
            if not dry_run:
                with transaction.atomic():
                    _erase(Client.all_objects.select_for_update().get(pk=client.pk))
    if not dry_run:
        audit_log(action=REPLAYED_ACTION, actor=actor, detail=result.as_detail())
    return result


def replay_after_restore(sender, *, alias: str, ledger: Path | None = None, **kwargs) -> None:
    """``backup_restored`` receiver: the restore holds the maintenance lock until this returns,
    so the erasures are back in force before the app serves again. A restore into another
    database (a restore test's scratch copy) is dropped afterwards and is left alone.
    ``ledger`` is the copy that came with the backup (from off-site): merged in first."""
    if alias != "default":
        return
    if ledger is not None and (added := ledger_merge(ledger)):
        log.warning("restore: %d erasure(s) from the ledger copy beside the backup added to the live ledger", added)
    result = erasure_replay(actor="restore: erasure ledger replay")
    if result.returned:
        log.warning("restore: %d erased client(s) were in the backup and have been erased again", len(result.returned))
