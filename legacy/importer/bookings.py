"""Appointments: dates and HH:mm strings to aware datetimes, every status spelling to one."""

from django.utils.translation import gettext

from bookings.models import Booking, BookingItem, BookingStatus
from catalog.models import Service
from crm.models import Client, User
from legacy import mapping as m
from legacy.importer.base import ImporterBase


class BookingImport(ImporterBase):
    def import_bookings(self) -> None:
        for rows in self.batches("bookings", "booking_id"):
            with self.batch("bookings", rows):
                lines = self.src.rows_in("booking_items", "booking_id", [r["booking_id"] for r in rows])
                self.counts["booking_items"].read += len(lines)
                clients = self.keys("users", [r["client_id"] for r in rows], model=Client)
                staff = self.keys("users", [r["staff_id"] for r in rows], model=User)
                items = []
                for row in rows:
                    if (values := self._booking(row, clients, staff)) is not None:
                        items.append((row["booking_id"], values))
                pks = self.upsert("bookings", Booking, items, match=("legacy_id",))
                synthesised = self._main_items(rows, lines)
                self.counts["booking_items"].read += len(synthesised)
                lines += synthesised
                self._booking_items(lines, pks, {lid: v["end"] - v["start"] for lid, v in items})

    @staticmethod
    def _main_items(rows: list[dict], lines: list[dict]) -> list[dict]:
        """A booking without lines had its service on the booking row itself (older app
        versions): that becomes its one line, so the service survives the move."""
        with_lines = {line["booking_id"] for line in lines}
        return [
            {"booking_item_id": f"booking:{row['booking_id']}", "booking_id": row["booking_id"],
             "item_type": row["item_type"], "item_id": row["item_id"], "name": "", "duration": row["duration"],
             "created_at": row["created_at"]}
            for row in rows if row["booking_id"] not in with_lines
        ]  # fmt: skip

    def _booking(self, row: dict, clients: dict, staff: dict) -> dict | None:
        lid = row["booking_id"]
        client = clients.get(row["client_id"])
        if client is None:
            self.skip("bookings", lid, gettext("booking of someone who is not a client"))
            return None
        try:
            start, end, note = m.booking_times(row["booking_date"], row["start_time"], row["end_time"], row["duration"])
        except (ValueError, TypeError) as exc:
            self.skip("bookings", lid, gettext("impossible date or time"), detail=str(exc))
            return None
        if note:
            self.problem("bookings", lid, gettext("end time missing or not after the start"), note)
        status = m.booking_status(row["status"])
        if status is None:
            status = BookingStatus.PENDING
            self.problem(
                "bookings", lid, gettext("unknown booking status %(status)r") % {"status": row["status"]},
                gettext("imported as pending"),
            )  # fmt: skip
        if row["staff_id"] and row["staff_id"] not in staff:
            self.problem(
                "bookings",
                lid,
                gettext("staff member is not a staff account"),
                gettext("imported without staff member"),
            )
        return {"client_id": client, "staff_id": staff.get(row["staff_id"]), "start": start, "end": end,
                "status": status, "notes": m.text(row["notes"]), "legacy_id": lid,
                "created_at": m.aware(row["created_at"])}  # fmt: skip

    def _booking_items(self, lines: list[dict], bookings: dict, lengths: dict) -> None:
        services = self.keys("services", [line["item_id"] for line in lines])
        names = dict(Service.all_objects.filter(pk__in=services.values()).values_list("pk", "name"))
        items = []
        for line in lines:
            lid, booking = line["booking_item_id"], bookings.get(line["booking_id"])
            if booking is None:
                self.skip("booking_items", lid, gettext("its booking was skipped"))
                continue
            if line["item_type"].upper() != "SERVICE" or line["item_id"] not in services:
                self.skip("booking_items", lid, gettext("booking line points at nothing"),
                          detail=f"{line['item_type']} {line['item_id']}")  # fmt: skip
                continue
            minutes = (
                line["duration"] if (line["duration"] or 0) > 0 else lengths[line["booking_id"]].seconds // 60 or 30
            )
            items.append((lid, {"booking_id": booking, "service_id": services[line["item_id"]],
                                "name": m.text(line["name"]) or names[services[line["item_id"]]],
                                "duration_minutes": minutes,
                                "created_at": m.aware(line["created_at"])}))  # fmt: skip
        if items:
            self.upsert("booking_items", BookingItem, items)
