"""Clients (with the likely duplicates among them) and appointments, which point at clients."""

import re
from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from beils.lib.models import Status
from beils.lib.parsing import parse_datetime
from beils.lib.streaming import stream_values
from bookings.models import Booking, BookingItem, BookingStatus
from catalog.models import Service
from crm.models import Client, User
from legacy import mapping as m
from legacy.peers.catalogue import item_for
from legacy.peers.reading import ParsedFile, Row
from transfer.mapping import normalised


def phone_key(phone) -> str:
    """The last nine digits, as crm's duplicate finder compares phones (DUPLICATE_KEYS)."""
    return re.sub(r"\D", "", str(phone or ""))[-9:]


class ClientIndex:
    """Finds the Beils client a row names: by its id in the other system (imported before), its
    e-mail, its phone, or its full name, in that order. Each way is used only when it names one
    client."""

    def __init__(self, run):
        self.run = run
        self._batch: dict | None = None
        self.by_name: dict[str, int | set[int]] = {}
        self.by_phone: dict[str, int | set[int]] = {}
        # Streamed: MariaDB's driver would hold the whole result in memory, ``.iterator()`` too.
        for pk, name, surname, phone in stream_values(Client.all_objects.values_list("pk", "name", "surname", "phone")):
            self.add(pk, name, surname, phone)

    def add(self, pk: int, name, surname, phone) -> None:
        index_add(self.by_name, normalised(f"{name or ''} {surname or ''}"), pk)
        if len(key := phone_key(phone)) >= 6:
            index_add(self.by_phone, key, pk)

    def prefetch(self, rows: list[dict] | None) -> None:
        """Look up, in three queries, what :meth:`find` will ask of these rows (their clients'
        ids in the other system, whether those clients still exist, their e-mails); ``None``
        forgets it. Only while nothing but :meth:`learn` changes the clients in between."""
        self._batch = None
        if rows is None:
            return
        keys = self.run.known("clients", {str(v["client_key"]) for v in rows if v.get("client_key")}, model=Client)
        alive = set(Client.all_objects.filter(pk__in=set(keys.values())).values_list("pk", flat=True))
        wanted = {str(v["client_email"]).lower() for v in rows if v.get("client_email")}
        emails = dict(Client.all_objects.filter(email__in=wanted).values_list("email", "pk")) if wanted else {}
        self._batch = {"keys": keys, "alive": alive, "emails": emails}

    def learn(self, key: str, pk: int, email) -> None:
        """A client made while a prefetch holds: its key and e-mail are found from now on."""
        if self._batch is not None:
            self._batch["keys"][key] = pk
            self._batch["alive"].add(pk)
            if email:
                self._batch["emails"][email] = pk

    def _known(self, key: str) -> int | None:
        if (batch := self._batch) is not None:
            return batch["keys"].get(key)
        return self.run.known("clients", [key], model=Client).get(key)

    def _exists(self, pk: int) -> bool:
        if (batch := self._batch) is not None:
            return pk in batch["alive"]
        return Client.all_objects.filter(pk=pk).exists()

    def _by_email(self, email: str) -> int | None:
        batch = self._batch
        if batch is not None and email in batch["emails"]:
            return batch["emails"][email]
        # Not prefetched, or not found as spelled: the database compares as its collation does.
        return Client.all_objects.filter(email=email).values_list("pk", flat=True).first()

    def find(self, values: dict) -> int | None:
        key, email = values.get("client_key"), values.get("client_email")
        pk = self._known(str(key)) if key else None
        # An erased client stays erased (the callers skip it); one deleted since is no match.
        if pk and (pk in self.run.erased or self._exists(pk)):
            return pk
        if email and (pk := self._by_email(str(email).lower())):
            return pk
        name = " ".join(str(values.get(f) or "") for f in ("client_name", "client_surname")).strip()
        candidates = (
            self.by_phone.get(phone_key(values.get("client_phone"))) if values.get("client_phone") else None,
            self.by_name.get(normalised(name)) if name else None,
        )
        for found in candidates:
            if isinstance(found, int):  # one client only
                return found
        return None


def index_add(index: dict, key, pk: int) -> None:
    """``index[key]`` is the one client with ``key``, or the set of them once there are more:
    most keys name one client, and a set each took ~200 bytes (100 000 clients, three keys
    each: a fifth of the import's memory)."""
    found = index.get(key)
    if found is None:
        index[key] = pk
    elif isinstance(found, set):
        found.add(pk)
    elif found != pk:
        index[key] = {found, pk}


def _client_values(run, row: Row) -> dict:
    v = row.values
    name, surname = v.get("name"), v.get("surname")
    if not name:
        name = (v.get("email") or "?").split("@")[0]
    born = v.get("birth_date")
    if born and born > timezone.localdate():
        run.note("clients", row, _("birth date in the future"), _("birth date left unknown"), level="warning")
        born = None
    country = m.country(v.get("country"))
    if country is None and v.get("country"):
        run.note("clients", row, _("country not recognised"), _("country left unknown"))
    return {"name": str(name)[:100], "surname": (surname or None) and str(surname)[:150], "email": v.get("email"),
            "phone": _phone(run, v.get("phone")), "birth_date": born,
            "gender": m.gender(v.get("gender")), "address": v.get("address") or None, "city": v.get("city") or None,
            "postal_code": v.get("postal_code") or None, "country": country, "notes": v.get("notes") or None}  # fmt: skip


def _phone(run, phone) -> str | None:
    text = str(phone or "").strip()
    if run.profile.phone_code_without_plus and re.fullmatch(r"\d{1,3} [\d ]{6,}", text):
        text = "+" + text
    return text[:30] or None


def write_clients(run, pf: ParsedFile, rows: list[Row]) -> None:
    counts = run.counts["clients"]
    known = run.known("clients", [r.key for r in rows], model=Client)
    existing = Client.all_objects.in_bulk(set(known.values()))
    emails = {r.values.get("email") for r in rows if r.values.get("email")}
    by_email = {c.email: c for c in Client.all_objects.filter(email__in=emails)}
    fresh, seen = [], run.__dict__.setdefault("_client_keys_seen", set())
    # The batch's new clients, written together (one INSERT, and one for their history) when the
    # batch ends, or before a later row of it links to one of them.
    pending: list[Client] = []
    for row in rows:
        if row.key in seen:
            run.skip("clients", row, _("the same client id appears twice in the files"), file=pf.name)
            continue
        seen.add(row.key)
        if not row.values.get("name") and not row.values.get("email"):
            run.skip("clients", row, _("a client with neither a name nor an e-mail"), file=pf.name)
            continue
        values = _client_values(run, row)
        client = existing.get(known.get(row.key))
        # An erased client without history is deleted, its id kept in the erasure ledger: the
        # key still names it, and the erasure stands.
        if known.get(row.key) in run.erased:
            run.skip("clients", row, _("the client was erased in Beils (GDPR): not imported again"), file=pf.name)
            continue
        if client is None and values["email"] in by_email:
            client = by_email[values["email"]]
            if client.pk is None:
                _create_clients(run, pending)
            if client.pk in run.erased:
                run.skip("clients", row, _("the client was erased in Beils (GDPR): not imported again"), file=pf.name)
                continue
            # Beils keeps one client per e-mail (any case): a second row with it is the same
            # person signed up twice (Fresha and Square both allow it), linked and listed.
            run.note("clients", row, _("a Beils client has the same e-mail"), _("linked to that client; empty fields filled"),
                     level="warning")  # fmt: skip
            _fill_blanks(client, values)
            counts.updated += 1
            fresh.append((row.key, client))
            continue
        if client is None:
            client = Client(**values)
            client.prepare_to_save()
            pending.append(client)
            counts.created += 1
            fresh.append((row.key, client))
            if client.email:
                by_email[client.email] = client
            continue
        # Imported before: what the salon has typed in Beils since wins; only empty fields are filled.
        if _fill_blanks(client, values):
            counts.updated += 1
        else:
            counts.already += 1
    _create_clients(run, pending)
    run.remember("clients", Client, [(key, client.pk) for key, client in fresh])


def _create_clients(run, pending: list[Client]) -> None:
    """Write the clients made so far (each with its history row, as ``save()`` writes it) and
    empty the list."""
    if not pending:
        return
    bulk_create_with_history(pending, Client, batch_size=len(pending))
    for client in pending:
        run.clients.add(client.pk, client.name, client.surname, client.phone)
    pending.clear()


def _fill_blanks(client: Client, values: dict) -> bool:
    empty = [f for f, v in values.items() if v is not None and getattr(client, f) in (None, "")]
    if "email" in empty and Client.all_objects.filter(email=values["email"]).exclude(pk=client.pk).exists():
        empty = [f for f in empty if f != "email"]
    for f in empty:
        setattr(client, f, values[f])
    if empty:
        client.save()
    return bool(empty)


def likely_duplicates(run) -> list[dict]:
    """Clients of this import who share an e-mail (any case), a phone (last nine digits) or a
    name and birth date with another active client: the merge tool's worklist. Ids only. The
    keys are crm's (DUPLICATE_KEYS), computed in one pass over the clients."""
    from legacy.models import LegacyKey

    mine = set(
        LegacyKey.objects.filter(entity=run.entity_key("clients"), legacy_id__in=run.source_keys["clients"])
        .values_list("object_id", flat=True)
    )  # fmt: skip
    if not mine:
        return []
    index: dict[tuple, int | set[int]] = {}
    # Every client, streamed, the active ones and this import's kept (a birth date comes as the
    # server's text on MariaDB: it is only compared with the others read here).
    rows = Client.all_objects.values_list("pk", "status", "email", "phone", "name", "surname", "birth_date")
    for pk, status, email, phone, name, surname, born in stream_values(rows):
        if status != Status.ON and pk not in mine:
            continue
        keys = []
        if email and len(email.strip()) >= 3:
            keys.append(("email", email.strip().lower()))
        if len(phone_key(phone)) >= 6:
            keys.append(("phone", phone_key(phone)))
        if born:
            keys.append(("name and birth date", f"{normalised(name)}|{normalised(surname)}|{born}"))
        for key in keys:
            index_add(index, key, pk)
    groups = {key: ids for key, ids in index.items() if isinstance(ids, set) and ids & mine}
    result = [
        {"by": by, "clients": sorted(ids)} for (by, _v), ids in sorted(groups.items(), key=lambda g: sorted(g[1]))
    ]
    # Rows of the files linked to one client (the same e-mail): listed with their keys.
    keys = LegacyKey.objects.filter(entity=run.entity_key("clients"), legacy_id__in=run.source_keys["clients"])
    shared: dict[int, list[str]] = {}
    for lid, pk in keys.values_list("legacy_id", "object_id").order_by("legacy_id"):
        shared.setdefault(pk, []).append(lid)
    result += [{"by": "email", "clients": [pk], "source_ids": ids} for pk, ids in shared.items() if len(ids) > 1]
    return result


# --- Appointments -----------------------------------------------------------------------------


def _staff_index() -> dict[str, int]:
    index = {}
    for pk, email, name, surname in User.all_objects.values_list("pk", "email", "name", "surname"):
        index[normalised(email)] = pk
        index.setdefault(normalised(f"{name or ''} {surname or ''}"), pk)
        index.setdefault(normalised(name), pk)
    return index


def _clock(value) -> time:
    return m.clock(str(value)) or parse_datetime(f"2000-01-01 {value}").time()


def _when(run, v: dict) -> tuple[datetime, datetime | None]:
    """The start (a date and time, or a date and a separate time) and the end (a date and time,
    a time on the start's day, or the start plus the duration) of an appointment's row."""
    start = v.get("start")
    if start is None:
        start = datetime.combine(v["date"], _clock(v["time"]) if v.get("time") else time(9, 0))
    start = run.aware(start)
    end = None
    if v.get("end"):
        try:
            end = run.aware(parse_datetime(v["end"], order=run.profile.date_order))
        except ValueError:
            end = run.aware(datetime.combine(start.date(), _clock(v["end"])))
    if end is None or end <= start:
        end = start + timedelta(minutes=v.get("duration") or 0) if (v.get("duration") or 0) > 0 else None
    return start, end


def group_appointments(rows: list[Row]) -> list[list[Row]]:
    """Rows of one appointment (several services, one row each, sharing the appointment's id)."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(str(row.values.get("group_key") or row.key), []).append(row)
    return list(groups.values())


def _appointment_key(rows: list[Row]) -> str:
    return str(rows[0].values.get("group_key") or rows[0].key)[:90]


def write_appointments(run, pf: ParsedFile, groups: list[list[Row]]) -> None:
    counts = run.counts["appointments"]
    known = run.known("appointments", [_appointment_key(g) for g in groups], model=Booking)
    staff = run.__dict__.setdefault("_staff", _staff_index())
    seen = run.__dict__.setdefault("_appointment_keys_seen", set())
    for rows in groups:
        row, key = rows[0], _appointment_key(rows)
        v = row.values
        if key in seen:
            run.skip("appointments", row, _("the same appointment id appears twice in the files"), file=pf.name)
            continue
        seen.add(key)
        if key in known:
            counts.already += 1
            continue
        if not any(v.get(ref) for ref in ("client_key", "client_email", "client_phone", "client_name")):
            run.skip("appointments", row, _("the appointment names no client"), file=pf.name)
            continue
        client = run.clients.find(v)
        if client is None:
            run.skip("appointments", row, _("no client with that id, e-mail, phone or name"), file=pf.name)
            continue
        if client in run.erased:
            run.skip("appointments", row, _("the client was erased in Beils (GDPR)"), file=pf.name)
            continue
        try:
            items = [(r, *_item_times(run, r)) for r in rows]
        except (ValueError, TypeError):
            run.skip("appointments", row, _("the time cannot be read"), file=pf.name)
            continue
        start, end = min(i[2] for i in items), max(i[3] for i in items)
        status = run.profile.status("appointments", v.get("status")) if v.get("status") else None
        if status is None:
            status = BookingStatus.COMPLETED if end < timezone.now() else BookingStatus.CONFIRMED
            if v.get("status"):
                run.note("appointments", row, _("status “%(status)s” not known") % {"status": v["status"]},
                         _("set from the date: %(status)s") % {"status": BookingStatus(status).label}, level="warning")  # fmt: skip
        staff_pk = staff.get(normalised(v.get("staff"))) if v.get("staff") else None
        if v.get("staff") and staff_pk is None:
            run.note("appointments", row, _("staff member not found in Beils"), _("imported without staff member"))
        booking = Booking.objects.create(client_id=client, staff_id=staff_pk, start=start, end=end, status=status,
                                         notes=v.get("notes") or None)  # fmt: skip
        made = [(r.key, BookingItem.objects.create(booking=booking, service_id=service, name=name[:150],
                                                   duration_minutes=max(1, int((e - s).total_seconds() // 60))).pk)
                for r, service, s, e, name in items if service is not None]  # fmt: skip
        counts.created += 1
        run.remember("appointments", Booking, [(key, booking.pk)])
        run.remember("appointment_items", BookingItem, made)


def _item_times(run, row: Row):
    """(service pk or None, start, end, name) of one row of an appointment."""
    v = row.values
    start, end = _when(run, v)
    service, name = None, str(v.get("service") or "")
    if name:
        _model, service = item_for(run, kind="service", name=name, price=v.get("price"), tax_rate=None, row=row,
                                   entity=_("appointments"))  # fmt: skip
    if end is None:
        minutes = Service.all_objects.filter(pk=service).values_list("duration_minutes", flat=True).first() or 30
        end = start + timedelta(minutes=minutes)
    return service, start, end, name


write_appointments.group = group_appointments
