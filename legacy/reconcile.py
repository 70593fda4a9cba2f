"""The reconciliation: what the old database says, computed there with its own SQL, against what
Beils now holds from it, to the cent. Any difference fails the import."""

import hashlib
import re
from collections import defaultdict
from datetime import UTC, timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import ExtractYear
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from bookings.models import Booking
from crm.models import DUPLICATE_KEY_MIN_LENGTH, Client
from legacy import mapping as m
from legacy.models import LegacyInvoice, LegacyKey
from legacy.source import LegacySource
from marketing.models import ClientBonus, GiftCard
from sales.chain import invoice_chain_verify
from sales.models import Cart, CartStatus, Debt, Invoice

ZERO = Decimal("0.00")
MAX_DUPLICATE_GROUPS = 100
LEGACY_NUMBER = re.compile(r"^(.*)-(\d{2})-(\d{4})-(\d+)$")


def _check(name: str, legacy, beils, *, kind: str = "money") -> dict:
    fmt = (lambda v: f"{v:.2f}") if kind == "money" else int
    return {"name": name, "kind": kind, "legacy": fmt(legacy), "beils": fmt(beils), "ok": legacy == beils}


def legacy_sales_per_year(src: LegacySource) -> dict[int, Decimal]:
    rows = src.tuples(
        "SELECT c.status, YEAR(c.created_at), "
        "EXISTS(SELECT 1 FROM debts d WHERE d.cart_id = c.cart_id), c.invoice_number IS NOT NULL, "
        "SUM(CAST(c.total AS DECIMAL(16,2))) FROM carts c GROUP BY 1, 2, 3, 4"
    )
    years: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for status, year, has_debt, invoiced, total in rows:
        if m.sale_status(status, has_debt=bool(has_debt), invoiced=bool(invoiced))[0] == CartStatus.COMPLETED:
            years[year] += Decimal(total).quantize(m.CENT)
    return dict(years)


def beils_sales_per_year() -> dict[int, Decimal]:
    rows = (
        Cart.objects.filter(legacy_id__isnull=False, status=CartStatus.COMPLETED)
        .annotate(year=ExtractYear("completed_at", tzinfo=UTC))
        .values("year")
        .annotate(total=Sum("total"))
    )
    return {row["year"]: row["total"] for row in rows}


def _legacy_sum(src: LegacySource, table: str, column: str) -> Decimal:
    if not src.has_table(table):
        return ZERO
    value = src.scalar(f"SELECT SUM(CAST(`{column}` AS DECIMAL(16,2))) FROM `{table}`")  # noqa: S608
    return Decimal(value or 0).quantize(m.CENT)


def future_bookings(src: LegacySource, now) -> tuple[int, dict]:
    """(old bookings starting from now on, imported ones by status)."""
    legacy = 0
    rows = src.tuples(
        "SELECT booking_date, start_time, end_time, duration FROM bookings WHERE booking_date >= %s",
        ((now - timedelta(days=2)).replace(tzinfo=None),),
    )
    for day, start, end, duration in rows:
        try:
            legacy += m.booking_times(day, start, end, duration)[0] >= now
        except (ValueError, TypeError):
            continue
    beils = Booking.objects.filter(legacy_id__isnull=False, start__gte=now)
    by_status = dict(beils.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return legacy, by_status


def duplicate_clients() -> list[dict]:
    """Imported clients sharing an email, phone or document with another active client: the
    merge tool's worklist. Ids only: the report is kept, and a client erased later must not
    live on in it."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    rows = (
        Client.objects.possible_duplicates()
        .filter(legacy_id__isnull=False)
        .values_list("pk", "email_key", "phone_key", "document_key")
        .order_by("pk")
    )
    for pk, *keys in rows.iterator(chunk_size=2000):
        for name, value in zip(("email_key", "phone_key", "document_key"), keys, strict=True):
            if value and len(value) >= DUPLICATE_KEY_MIN_LENGTH[name]:
                groups[(name, value)].append(pk)
    shared = [(key, ids) for key, ids in groups.items() if len(ids) > 1]
    return [{"by": key[0].removesuffix("_key"), "clients": ids} for key, ids in shared[:MAX_DUPLICATE_GROUPS]]


def reconcile(src: LegacySource) -> dict:
    now = timezone.now()
    checks = []
    legacy_years, beils_years = legacy_sales_per_year(src), beils_sales_per_year()
    for year in sorted(set(legacy_years) | set(beils_years)):
        name = gettext("sales %(year)s") % {"year": year}
        checks.append(_check(name, legacy_years.get(year, ZERO), beils_years.get(year, ZERO)))
    open_debt = Debt.objects.filter(legacy_id__isnull=False).aggregate(s=Sum("remaining"))["s"] or ZERO
    checks.append(_check(gettext("open debt"), _legacy_sum(src, "debts", "remaining"), open_debt))
    sessions = ClientBonus.objects.filter(legacy_id__isnull=False).aggregate(s=Sum("sessions_remaining"))["s"] or 0
    legacy_sessions = src.scalar("SELECT COALESCE(SUM(remaining_sessions), 0) FROM client_packages")
    checks.append(_check(gettext("bono sessions outstanding"), int(legacy_sessions), sessions, kind="count"))
    if src.has_table("giftcards"):
        cards = LegacyKey.objects.filter(entity="giftcards").values("object_id")
        balance = GiftCard.objects.filter(pk__in=cards).aggregate(s=Sum("current_balance"))["s"] or ZERO
        checks.append(_check(gettext("gift card balances"), _legacy_sum(src, "giftcards", "current_balance"), balance))
    invoiced = src.scalar("SELECT COUNT(*) FROM carts WHERE invoice_number IS NOT NULL")
    checks.append(_check(gettext("legacy invoices kept"), invoiced, LegacyInvoice.objects.count(), kind="count"))
    legacy_future, beils_future = future_bookings(src, now)
    checks.append(_check(gettext("future bookings"), legacy_future, sum(beils_future.values()), kind="count"))
    collisions = Invoice.objects.filter(number__in=LegacyInvoice.objects.values("number")).count()
    checks.append(_check(gettext("legacy and Beils invoice numbers never collide"), 0, collisions, kind="count"))
    chain = invoice_chain_verify()
    invoices = ngettext("%(count)s invoice", "%(count)s invoices", chain.invoices) % {"count": chain.invoices}
    checks.append({"name": gettext("Beils invoice chain (verifyinvoices)"), "kind": "chain", "legacy": "-",
                   "beils": invoices, "ok": chain.ok})  # fmt: skip
    return {
        "checks": checks,
        "reconciled": all(c["ok"] for c in checks),
        "future_bookings": {"legacy": legacy_future, "beils_by_status": beils_future},
        "duplicates": duplicate_clients(),
        "legacy_series": legacy_series(src),
    }


def legacy_series(src: LegacySource) -> dict:
    """The old invoices as a closed series: how many, the numbers missing inside each month's
    run (against the old ``sequences`` table), and a SHA-256 seal over every (number, hash) so
    that a later change to the kept series is detectable."""
    numbers: dict[tuple[str, int, int], set[int]] = defaultdict(set)
    seal = hashlib.sha256()
    for number, stored_hash in LegacyInvoice.objects.order_by("number").values_list("number", "hash").iterator():
        seal.update(f"{number}|{stored_hash}\n".encode())
        if match := LEGACY_NUMBER.match(number):
            prefix, month, year, n = match.groups()
            numbers[(prefix, int(year), int(month))].add(int(n))
    last = {}
    if src.has_table("sequences"):
        for prefix, kind, last_value in src.tuples("SELECT prefix, type, last_value FROM sequences"):
            if match := re.fullmatch(r"invoice_(\d{4})_(\d{2})", kind or ""):
                last[(prefix, int(match.group(1)), int(match.group(2)))] = last_value
    gaps = []
    for key, seen in sorted(numbers.items()):
        expected = set(range(min(min(seen), 1), max(max(seen), last.get(key, 0)) + 1))
        prefix, year, month = key
        gaps += [f"{prefix}-{month:02d}-{year}-{n:04d}" for n in sorted(expected - seen)]
    return {"invoices": sum(len(v) for v in numbers.values()), "gaps": gaps[:100], "seal_sha256": seal.hexdigest()}
