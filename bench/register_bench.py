#!/usr/bin/env python
"""Benchmark the register of issued invoices (issue 19): CSV, XLSX and the Veri*Factu JSON of a
month and of a year, the admin page's download of a month, and beside them the obvious
alternatives (model instances with their sale lines read per invoice; the whole year as model
instances and one ``json.dumps``), in one run.

A scratch MariaDB database (``beils_register_bench``) gets N completed sales (default 250 000)
spread evenly over 14 months (2025-10-01 to 2026-11-30), generated in SQL with MariaDB's
sequence engine: every sale a 21 % service, two in three a 10 % product, one in ten a 0 % gift
card. Each sale has its invoice (simplified, or full with a DNI for two in five), one in 500 a
rectifying invoice the same day; one in twenty invoices is stored without its VAT breakdown (as
the demo data and older imports are), so the register breaks it down from the sale's lines. The
sales of the first four months are then moved to the archive tables (``*_archive``), so the
year's register reads archived lines too. The invoices are numbered gap-free per series and
year and hash-chained in Python (SHA-256 as ``sales.models.invoice_hash``) and bulk-inserted: the
JSON export checks the whole chain, and finds it intact.

Each run is its own process, after Django's start-up, writing to /dev/null; seconds and peak
RSS are its own. p50 and p95 are over ``--runs`` runs (with 5 runs p95 is the slowest).

    .venv/bin/python bench/register_bench.py                  # 250 000 sales, 5 runs a month, 3 a year
    .venv/bin/python bench/register_bench.py --sales 20000 --runs 2 --only month
    .venv/bin/python bench/register_bench.py --no-seed        # reuse the seeded database
"""

import argparse
import os
import statistics

from _child import REPORT, machine, run_child, scratch_database

GENERATE = """
import hashlib, json, os, sys, time, django
from datetime import datetime, timedelta
from decimal import Decimal
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from django.db import connection
n = int(sys.argv[1])
DAYS = 426  # 2025-10-01 .. 2026-11-30
tables = ("sales_invoice", "sales_historicalinvoice", "sales_invoicesequence", "sales_payment", "sales_cartitem",
          "sales_cart", "sales_payment_archive", "sales_cartitem_archive", "sales_cart_archive")
cart_cols = ("id, created_at, updated_at, is_demo, status, subtotal, discount_total, net_total, tax_total, total, "
             "completed_at, client_id, tip")
item_cols = ("created_at, updated_at, is_demo, name, quantity, unit_price, tax_rate, discount, net, tax, gross, cart_id, "
             "service_id, product_id")
NET = "(20 + IF(seq % 3 <> 0, 10, 0) + IF(seq % 10 = 0, 25, 0))"
TAX = "(4.20 + IF(seq % 3 <> 0, 1.00, 0))"
AT = f"TIMESTAMP'2025-10-01 08:00:00' + INTERVAL FLOOR((seq - 1) * {DAYS} / {n}) DAY + INTERVAL (seq % 600) MINUTE"
with connection.cursor() as c:
    c.execute("SET FOREIGN_KEY_CHECKS = 0")
    for table in tables:
        c.execute(f"TRUNCATE TABLE {table}")
    c.execute("SELECT MIN(id), MAX(id) FROM crm_client")
    low, high = c.fetchone()
    c.execute("SELECT (SELECT MIN(id) FROM catalog_service), (SELECT MIN(id) FROM catalog_product)")
    service, product = c.fetchone()
    c.execute(f"INSERT INTO sales_cart ({cart_cols}) SELECT seq, {AT}, {AT}, 0, 'COMPLETED', {NET} + {TAX}, 0, "
              f"{NET}, {TAX}, {NET} + {TAX}, {AT}, {low} + seq % ({high} - {low} + 1), 0 FROM seq_1_to_{n}")
    c.execute(f"INSERT INTO sales_cartitem ({item_cols}) "
              f"SELECT completed_at, completed_at, 0, 'Corte', 1, 24.20, 21.00, 0, 20.00, 4.20, 24.20, id, {service}, NULL FROM sales_cart "
              f"UNION ALL SELECT completed_at, completed_at, 0, 'Champú', 1, 11.00, 10.00, 0, 10.00, 1.00, 11.00, id, NULL, {product} "
              f"FROM sales_cart WHERE id % 3 <> 0 "
              f"UNION ALL SELECT completed_at, completed_at, 0, 'Tarjeta regalo', 1, 25.00, 0.00, 0, 25.00, 0, 25.00, id, {service}, NULL "
              f"FROM sales_cart WHERE id % 10 = 0")
    c.execute("SET FOREIGN_KEY_CHECKS = 1")

# The invoices, in issue order, numbered and chained as sales.services issues them.
def breakdown(seq):
    found = {"21.00": (Decimal("20.00"), Decimal("4.20"))}
    if seq % 3:
        found["10.00"] = (Decimal("10.00"), Decimal("1.00"))
    if seq % 10 == 0:
        found["0.00"] = (Decimal("25.00"), Decimal("0.00"))
    return found

start = datetime(2025, 10, 1, 8)
sequences, previous, rows, pk = {}, "", [], 0
def add(series, issued, kind, cart, by_rate, sign, rectifies, name, tax_id, stored=True):
    global previous, pk
    pk += 1
    year = issued.year
    sequences[(series, year)] = sequences.get((series, year), 0) + 1
    number = f"{series}{year}-{sequences[(series, year)]:06d}"
    net = sign * sum(b for b, _ in by_rate.values())
    tax = sign * sum(v for _, v in by_rate.values())
    total = net + tax
    stored_breakdown = {r: {"net": f"{sign * b:.2f}", "tax": f"{sign * v:.2f}", "gross": f"{sign * (b + v):.2f}"}
                        for r, (b, v) in sorted(by_rate.items())} if stored else {}
    payload = "|".join(["B00000000", number, issued.isoformat(), f"{total:.2f}", previous])
    digest = hashlib.sha256(payload.encode()).hexdigest()
    at = datetime.combine(issued, datetime.min.time()) + timedelta(hours=9)
    rows.append((pk, at, at, 0, series, year, sequences[(series, year)], number, kind, issued, "B00000000", name,
                 tax_id, net, tax, total, json.dumps(stored_breakdown), digest, previous or None, cart, rectifies,
                 "Devolución" if rectifies else None))
    previous = digest
    return pk

for seq in range(1, n + 1):
    issued = (start + timedelta(days=(seq - 1) * DAYS // n)).date()
    full = seq % 5 < 2
    name, tax_id = (f"Cliente {seq}", f"{seq % 100000000:08d}Z") if full else (None, None)
    by_rate = breakdown(seq)
    original = add("F", issued, "F1" if full else "F2", seq, by_rate, 1, None, name, tax_id, stored=seq % 20 != 7)
    if seq % 500 == 0:
        add("RF", issued, "R", seq, by_rate, -1, original, name, tax_id)
cols = ("id, created_at, updated_at, is_demo, series, year, sequence_number, number, kind, issue_date, "
        "issuer_tax_id, customer_name, customer_tax_id, net_total, tax_total, total, tax_breakdown, hash, "
        "previous_hash, cart_id, rectifies_id, reason")
with connection.cursor() as c:
    c.execute("SET FOREIGN_KEY_CHECKS = 0")
    for i in range(0, len(rows), 5000):
        c.executemany(f"INSERT INTO sales_invoice ({cols}) VALUES ({', '.join(['%s'] * 22)})", rows[i:i + 5000])
    # The first four months' sales move to the archive, as `manage.py archive` moves them.
    c.execute(f"INSERT INTO sales_cart_archive ({cart_cols}, archived_at) SELECT {cart_cols}, NOW() FROM sales_cart "
              f"WHERE completed_at < '2026-02-01'")
    c.execute(f"INSERT INTO sales_cartitem_archive (id, {item_cols}, archived_at) SELECT i.id, "
              f"{', '.join('i.' + col.strip() for col in item_cols.split(','))}, NOW() FROM sales_cartitem i "
              f"JOIN sales_cart c ON c.id = i.cart_id WHERE c.completed_at < '2026-02-01'")
    c.execute("DELETE i FROM sales_cartitem i JOIN sales_cart c ON c.id = i.cart_id WHERE c.completed_at < '2026-02-01'")
    c.execute("DELETE FROM sales_cart WHERE completed_at < '2026-02-01'")
    c.execute("SET FOREIGN_KEY_CHECKS = 1")
    c.execute(f"ANALYZE TABLE {', '.join(tables)}")
    c.fetchall()
    c.execute("SELECT COUNT(*), SUM(kind = 'R'), SUM(tax_breakdown = '{}') FROM sales_invoice")
    invoices, rectifying, bare = c.fetchone()
    c.execute("SELECT (SELECT COUNT(*) FROM sales_cart), (SELECT COUNT(*) FROM sales_cart_archive), "
              "(SELECT COUNT(*) FROM sales_cartitem) + (SELECT COUNT(*) FROM sales_cartitem_archive)")
    live, archived, lines = c.fetchone()
print(json.dumps({"invoices": invoices, "rectifying": int(rectifying), "without_breakdown": int(bare),
                  "live_sales": live, "archived_sales": archived, "lines": lines}))
"""

COMMON = """
import csv, io, json, os, resource, shutil, sys, time, django
from datetime import date
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from django.utils import translation
translation.activate("es")
start, end = date.fromisoformat(sys.argv[1]), date.fromisoformat(sys.argv[2])
sink = open(os.devnull, "wb")
started = time.perf_counter()
"""


def export(fmt: str) -> str:
    return f"""
from sales.register import register_file
exported = register_file(start=start, end=end, fmt="{fmt}")
if hasattr(exported, "file"):  # streamed from its temporary file, as the downloads do
    shutil.copyfileobj(exported.file, sink, 1 << 20)
    exported.file.close()
else:
    sink.write(exported.content)
rows = exported.rows
"""


ADMIN = """
# The admin page's download, through Django's test client (one request, the whole response).
from django.test import Client
from crm.models import Role, User
user = User.objects.filter(role=Role.ADMIN, is_active=True).first()
browser = Client()
browser.force_login(user)
started = time.perf_counter()
response = browser.get("/admin/sales/invoice/register/", {"start": start, "end": end, "format": "csv"})
assert response.status_code == 200, response.status_code
body = b"".join(response.streaming_content) if response.streaming else response.content
sink.write(body)
rows = body.count(b"\\n") - 2
"""

#: The obvious way: each invoice as a model instance, its sale's lines read per invoice (N+1).
PER_INVOICE = """
from sales.models import ArchivedCartItem, CartItem, Invoice
buffer = io.StringIO()
writer = csv.writer(buffer, delimiter=";")
rows = 0
for invoice in Invoice.objects.filter(issue_date__gte=start, issue_date__lte=end).order_by("issue_date", "pk"):
    lines = list(CartItem.objects.filter(cart_id=invoice.cart_id)) or list(
        ArchivedCartItem.objects.filter(cart_id=invoice.cart_id))
    by_rate = {}
    for line in lines:
        base, vat = by_rate.get(line.tax_rate, (0, 0))
        by_rate[line.tax_rate] = (base + line.net, vat + line.tax)
    writer.writerow([invoice.issue_date, invoice.number, invoice.series, invoice.kind, invoice.customer_tax_id,
                     invoice.customer_name, *[x for pair in by_rate.values() for x in pair], invoice.total])
    rows += 1
sink.write(buffer.getvalue().encode())
"""

#: The obvious JSON: every invoice of the period as a model instance, one dict, one json.dumps.
IN_MEMORY_JSON = """
from sales.models import Invoice
from sales.chain import invoice_chain_verify
invoices = list(Invoice.objects.filter(issue_date__gte=start, issue_date__lte=end).order_by("pk"))
records = [{"number": i.number, "issue_date": i.issue_date.isoformat(), "total": f"{i.total:.2f}",
            "rectifies": i.rectifies.number if i.rectifies_id else None, "hash": i.hash,
            "previous_hash": i.previous_hash, "hash_matches": i.hash == i.compute_hash()} for i in invoices]
chain = invoice_chain_verify()
sink.write(json.dumps({"chain": chain.ok, "records": records}, indent=2).encode())
rows = len(records)
"""

CHAIN = """
from sales.chain import invoice_chain_verify
chain = invoice_chain_verify()
assert chain.ok, chain.first_broken
rows = chain.invoices
"""

MONTH = ("2026-10-01", "2026-10-31")
YEAR = ("2025-12-01", "2026-11-30")

#: (label, period, code, runs: "full" = --runs, "few" = --year-runs)
VARIANTS = [
    ("month CSV", MONTH, export("csv"), "full"),
    ("month XLSX", MONTH, export("xlsx"), "full"),
    ("month JSON (whole chain checked)", MONTH, export("json"), "full"),
    ("month CSV, admin page download", MONTH, ADMIN, "full"),
    ("month CSV, per-invoice lines (N+1)", MONTH, PER_INVOICE, "few"),
    ("chain check alone (every invoice)", MONTH, CHAIN, "few"),
    ("year CSV", YEAR, export("csv"), "few"),
    ("year XLSX", YEAR, export("xlsx"), "few"),
    ("year JSON", YEAR, export("json"), "few"),
    ("year JSON, instances + json.dumps", YEAR, IN_MEMORY_JSON, "few"),
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="beils_register_bench")
    parser.add_argument("--sales", type=int, default=250_000, help="completed sales (default 250 000)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each month variant (default 5)")
    parser.add_argument("--year-runs", type=int, default=3, help="runs of the year and N+1 variants (default 3)")
    parser.add_argument("--no-seed", action="store_true", help="reuse the database as it is")
    parser.add_argument(
        "--only", help="run only these variants, comma-separated: a variant's exact name, or a part of names"
    )
    args = parser.parse_args()
    if args.no_seed:
        env = {"DATABASE_URL": f"mysql://root@127.0.0.1:3306/{args.database}"}
    else:
        env = scratch_database(args.database, clients=2000)
        print("seeded:", run_child(GENERATE, str(args.sales), env=env))
    load = os.getloadavg()
    print(machine(f"{args.sales:,} sales over 14 months in {args.database}"))
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'variant':<38}{'rows':>8}{'p50 s':>8}{'p95 s':>8}{'rows/s':>9}{'peak MiB':>10}")
    names = {variant[0] for variant in VARIANTS}
    wanted = [piece.strip() for piece in (args.only or "").split(",") if piece.strip()]
    for name, (first, last), code, runs in VARIANTS:
        if wanted and not any(piece == name or (piece not in names and piece in name) for piece in wanted):
            continue
        results = [
            run_child(COMMON + code + REPORT, first, last, env=env)
            for _ in range(args.runs if runs == "full" else args.year_runs)
        ]
        seconds = [r["seconds"] for r in results]
        p50 = statistics.median(seconds)
        rss = max(r["rss"] for r in results)
        rows = results[0]["rows"]
        print(f"{name:<38}{rows:>8,}{p50:>8.2f}{percentile(seconds, 0.95):>8.2f}{rows / p50:>9,.0f}{rss:>10.0f}")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
