#!/usr/bin/env python
"""Benchmark archiving completed sales: Beils' batched move (1 000 sales a transaction) against
one big ``INSERT … SELECT`` + ``DELETE`` per table in a single transaction, in one run.

A scratch MariaDB database gets N completed sales older than two years, each with two lines and
one payment, generated in SQL (MariaDB's sequence engine). Each variant starts from that data
and reports rows moved per second and its longest single transaction, which is how long the
salon's tills could wait on a lock.

    .venv/bin/python bench/archive_bench.py                 # 1 000 000 sales
    .venv/bin/python bench/archive_bench.py --sales 100000
"""

import argparse

from _child import REPORT, machine, run_child, scratch_database

GENERATE = """
import json, os, resource, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from django.db import connection
n = int(sys.argv[1])
with connection.cursor() as c:
    c.execute("SET FOREIGN_KEY_CHECKS = 0")
    for table in ("sales_payment", "sales_cartitem", "sales_cart", "sales_payment_archive",
                  "sales_cartitem_archive", "sales_cart_archive"):
        c.execute(f"TRUNCATE TABLE {table}")
    c.execute("SET FOREIGN_KEY_CHECKS = 1")
    c.execute("SELECT id FROM catalog_service LIMIT 1")
    service = c.fetchone()[0]
    old = "NOW() - INTERVAL 3 YEAR"
    c.execute(f"INSERT INTO sales_cart (id, created_at, updated_at, is_demo, status, subtotal, discount_total, "
              f"net_total, tax_total, total, completed_at) SELECT seq, {old}, {old}, 0, 'COMPLETED', 24.20, 0, 20.00, "
              f"4.20, 24.20, {old} FROM seq_1_to_{n}")
    c.execute(f"INSERT INTO sales_cartitem (created_at, updated_at, is_demo, cart_id, service_id, name, quantity, "
              f"unit_price, tax_rate, discount, net, tax, gross) SELECT {old}, {old}, 0, c.id, {service}, 'Corte', 1, "
              f"12.10, 21.00, 0, 10.00, 2.10, 12.10 FROM sales_cart c CROSS JOIN seq_1_to_2")
    c.execute(f"INSERT INTO sales_payment (created_at, updated_at, is_demo, cart_id, method, amount, paid_at) "
              f"SELECT {old}, {old}, 0, id, 'CARD', 24.20, {old} FROM sales_cart")
print(json.dumps({"ok": True}))
"""

COMMON = """
import json, os, resource, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from datetime import timedelta
from django.db import connection, transaction
from django.utils import timezone
from maintenance.lifecycle import lifecycle_run
from maintenance.models import LifecycleKind
from sales.models import Cart, CartItem, Payment
rows = Cart.objects.count() + CartItem.objects.count() + Payment.objects.count()
before = timezone.now() - timedelta(days=730)
started = time.perf_counter()
"""

VARIANTS = {
    "Beils, batches of 1 000 sales": """
from maintenance.archive import sales_archive
with lifecycle_run(LifecycleKind.ARCHIVE, dry_run=False) as run:
    sales_archive(before=before, run=run, dry_run=False)
longest = run.detail["longest_batch_seconds"]
assert Cart.objects.count() == 0
""",
    "one INSERT … SELECT + DELETE": """
cols = {m: ", ".join(f"`{f.column}`" for f in m._meta.concrete_fields) for m in (Cart, CartItem, Payment)}
with transaction.atomic(), connection.cursor() as c:
    where = "cart_id IN (SELECT id FROM sales_cart WHERE status = 'COMPLETED' AND completed_at < %s)"
    for model, table in ((CartItem, "sales_cartitem"), (Payment, "sales_payment")):
        c.execute(f"INSERT INTO {table}_archive ({cols[model]}, archived_at) SELECT {cols[model]}, NOW() "
                  f"FROM {table} WHERE {where}", [before])
    c.execute(f"INSERT INTO sales_cart_archive ({cols[Cart]}, archived_at) SELECT {cols[Cart]}, NOW() "
              "FROM sales_cart WHERE status = 'COMPLETED' AND completed_at < %s", [before])
    for table in ("sales_cartitem", "sales_payment"):
        c.execute(f"DELETE FROM {table} WHERE {where}", [before])
    c.execute("DELETE FROM sales_cart WHERE status = 'COMPLETED' AND completed_at < %s", [before])
longest = time.perf_counter() - started
assert Cart.objects.count() == 0
""",
}

REPORT_LONGEST = REPORT.replace('"rss":', '"longest": longest, "rss":')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="beils_bench_archive")
    parser.add_argument("--sales", type=int, default=1_000_000)
    args = parser.parse_args()
    env = scratch_database(args.database, clients=5)
    print(machine(f"{args.sales:,} completed sales (x2 lines, x1 payment) in {args.database}"))
    print(f"{'variant':<34}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'longest tx (s)':>16}{'peak MiB':>10}")
    for name, code in VARIANTS.items():
        run_child(GENERATE, str(args.sales), env=env)
        r = run_child(COMMON + code + REPORT_LONGEST, env=env)
        rate = r["rows"] / r["seconds"]
        print(f"{name:<34}{r['rows']:>11,}{r['seconds']:>9.1f}{rate:>10,.0f}{r['longest']:>16.3f}{r['rss']:>10.0f}")


if __name__ == "__main__":
    main()
