"""Clients (with the likely duplicates among them) and appointments, which point at clients."""

import re
from datetime import datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

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
        self.by_name: dict[str, set[int]] = {}
        self.by_phone: dict[str, set[int]] = {}
        for pk, name, surname, phone in Client.all_objects.values_list("pk", "name", "surname", "phone").iterator():
            self.add(pk, name, surname, phone)

    def add(self, pk: int, name, surname, phone) -> None:
        self.by_name.setdefault(normalised(f"{name or ''} {surname or ''}"), set()).add(pk)
        if len(key := phone_key(phone)) >= 6:
            self.by_phone.setdefault(key, set()).add(pk)

    def find(self, values: dict) -> int | None:
        if key := values.get("client_key"):
            if pk := self.run.known("clients", [str(key)], model=Client).get(str(key)):
                return pk
        if email := values.get("client_email"):
            if pk := Client.all_objects.filter(email=email.lower()).values_list("pk", flat=True).first():
                return pk
        for found in (
            self.by_phone.get(phone_key(values.get("client_phone"))) if values.get("client_phone") else None,
            self.by_name.get(normalised(values.get("client_name"))) if values.get("client_name") else None,
        ):
            if found and len(found) == 1:
                return next(iter(found))
        return None  # fmt: skip


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
            "phone": (v.get("phone") or None) and str(v["phone"])[:30], "birth_date": born,
            "gender": m.gender(v.get("gender")), "address": v.get("address") or None, "city": v.get("city") or None,
            "postal_code": v.get("postal_code") or None, "country": country, "notes": v.get("notes") or None}  # fmt: skip


def write_clients(run, pf: ParsedFile, rows: list[Row]) -> None:
    counts = run.counts["clients"]
    known = run.known("clients", [r.key for r in rows], model=Client)
    existing = Client.all_objects.in_bulk(set(known.values()))
    emails = {r.values.get("email") for r in rows if r.values.get("email")}
    by_email = {c.email: c for c in Client.all_objects.filter(email__in=emails)}
    fresh, seen = [], run.__dict__.setdefault("_client_keys_seen", set())
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
        if client is not None and client.pk in run.erased:
            run.skip("clients", row, _("the client was erased in Beils (GDPR): not imported again"), file=pf.name)
            continue
        mine = run.__dict__.setdefault("_clients_made", {})
        if client is None and values["email"] in by_email and by_email[values["email"]].pk in mine:
            # Two clients of the files share an e-mail (Fresha lets a client sign up twice): Beils
            # keeps e-mails unique, and merging is a person's decision: imported without it.
            first = by_email[values["email"]]
            run.note("clients", row, _("another client in the files has the same e-mail"),
                     _("imported without e-mail; listed as a likely duplicate"), level="warning")  # fmt: skip
            run.duplicates.append({"first": first.pk, "row": row.key, "email": first.email})
            values["email"] = None
        if client is None and values["email"] in by_email:
            client = by_email[values["email"]]
            if client.pk in run.erased:
                run.skip("clients", row, _("the client was erased in Beils (GDPR): not imported again"), file=pf.name)
                continue
            run.note("clients", row, _("a Beils client has the same e-mail"), _("linked to that client; empty fields filled"),
                     level="warning")  # fmt: skip
            _fill_blanks(client, values)
            counts.updated += 1
            fresh.append((row.key, client.pk))
            continue
        if client is None:
            client = Client(**values)
            client.save()
            mine[client.pk] = row.key
            counts.created += 1
            fresh.append((row.key, client.pk))
            run.clients.add(client.pk, client.name, client.surname, client.phone)
            if client.email:
                by_email[client.email] = client
            continue
        changed = [f for f, v in values.items() if v is not None and getattr(client, f) != v]
        if changed and not (values["email"] and values["email"] != client.email and values["email"] in by_email):
            for f in changed:
                setattr(client, f, values[f])
            client.save()
            counts.updated += 1
        else:
            counts.already += 1
    run.remember("clients", Client, fresh)


def _fill_blanks(client: Client, values: dict) -> None:
    empty = [f for f, v in values.items() if v is not None and getattr(client, f) in (None, "")]
    for f in empty:
        setattr(client, f, values[f])
    if empty:
        client.save()


def likely_duplicates(run) -> list[dict]:
    """Clients of this import who share an e-mail (any case), a phone (last nine digits) or a
    name and birth date with another client: the merge tool's worklist. Ids only."""
    from legacy.models import LegacyKey

    mine = list(
        LegacyKey.objects.filter(entity=run.entity_key("clients"), legacy_id__in=run.source_keys["clients"])
        .values_list("object_id", flat=True).distinct()
    )  # fmt: skip
    groups: dict[tuple, set[int]] = {}
    rows = Client.all_objects.filter(pk__in=mine).values_list("pk", "email", "phone", "name", "surname", "birth_date")
    for pk, email, phone, name, surname, born in rows:
        ways = []
        if email:
            ways.append(("email", Q(email_key=email.strip().lower()), email.lower()))
        if len(phone_key(phone)) >= 6:
            ways.append(("phone", Q(phone_key=phone_key(phone)), phone_key(phone)))
        if born:
            ways.append(("name and birth date", Q(name__iexact=name, surname__iexact=surname or "", birth_date=born)
                         if surname else Q(name__iexact=name, birth_date=born), f"{normalised(name)}|{born}"))  # fmt: skip
        for by, condition, value in ways:
            ids = set(Client.objects.with_match_keys().filter(condition).exclude(pk=pk).values_list("pk", flat=True))
            if ids:
                groups.setdefault((by, value), set()).update(ids | {pk})
    for shared in run.duplicates:
        second = run.known("clients", [shared["row"]], model=Client).get(shared["row"])
        if second is not None:
            groups.setdefault(("email", shared["email"]), set()).update({shared["first"], second})
    return [{"by": by, "clients": sorted(ids)} for (by, _v), ids in sorted(groups.items(), key=lambda g: sorted(g[1]))]


# --- Appointments -----------------------------------------------------------------------------


def _staff_index() -> dict[str, int]:
    index = {}
    for pk, email, name, surname in User.all_objects.values_list("pk", "email", "name", "surname"):
        index[normalised(email)] = pk
        index.setdefault(normalised(f"{name or ''} {surname or ''}"), pk)
        index.setdefault(normalised(name), pk)
    return index


def _when(run, v: dict) -> tuple[datetime, datetime] | None:
    start = v.get("start")
    if start is None:
        clock = m.clock(v.get("time")) if v.get("time") else time(9, 0)
        if clock is None:
            from beils.lib.parsing import parse_datetime

            clock = parse_datetime(f"2000-01-01 {v['time']}").time()
        start = datetime.combine(v["date"], clock)
    start = run.aware(start)
    end = run.aware(v.get("end"))
    if end is not None and end.date() == datetime(2000, 1, 1).date():
        end = None
    if end is None or end <= start:
        end = start + timedelta(minutes=v.get("duration") or 0) if (v.get("duration") or 0) > 0 else None
    return start, end


def write_appointments(run, pf: ParsedFile, rows: list[Row]) -> None:
    counts = run.counts["appointments"]
    known = run.known("appointments", [r.key for r in rows], model=Booking)
    staff = run.__dict__.setdefault("_staff", _staff_index())
    fresh, seen = [], run.__dict__.setdefault("_appointment_keys_seen", set())
    for row in rows:
        v = row.values
        if row.key in seen:
            run.skip("appointments", row, _("the same appointment id appears twice in the files"), file=pf.name)
            continue
        seen.add(row.key)
        if row.key in known:
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
            start, end = _when(run, v)
        except (ValueError, TypeError):
            run.skip("appointments", row, _("the time cannot be read"), file=pf.name)
            continue
        service = None
        if v.get("service"):
            _model, service = item_for(run, kind="service", name=str(v["service"]), price=v.get("price"),
                                       tax_rate=None, row=row, entity=_("appointments"))  # fmt: skip
        if end is None:
            minutes = Service.all_objects.filter(pk=service).values_list("duration_minutes", flat=True).first() or 30
            end = start + timedelta(minutes=minutes)
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
        if service is not None:
            BookingItem.objects.create(booking=booking, service_id=service, name=str(v["service"])[:150],
                                       duration_minutes=max(1, int((end - start).total_seconds() // 60)))  # fmt: skip
        counts.created += 1
        fresh.append((row.key, booking.pk))
    run.remember("appointments", Booking, fresh)
