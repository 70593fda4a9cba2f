#!/usr/bin/env python
"""Benchmark the GDPR export of a client with a long history (issue 17): Beils' streamed export
against the obvious alternative it replaced (every row loaded as a model instance, the document
built as one dict and ``json.dumps``-ed), in one run.

A scratch MariaDB database gets one client with N bookings (one line each, one history row
each), N completed sales (two lines, one payment, one invoice each) and an audit entry about
every booking and sale, generated in SQL (MariaDB's sequence engine), among other clients'
history (10 N bookings and sales, 30 N audit entries) so that every query has rows to skip.
Each variant runs in its own process, after Django's start-up, and writes the JSON to
/dev/null; seconds and peak RSS are its own. The ZIP (admin action, ``?format=zip``) is timed
the same way.

    .venv/bin/python bench/gdpr_bench.py                  # 5 000 bookings and 5 000 sales
    .venv/bin/python bench/gdpr_bench.py --history 1000
"""

import argparse
import os

from _child import REPORT, machine, run_child, scratch_database

GENERATE = """
import json, os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from django.db import connection
from crm.models import Client
n = int(sys.argv[1])
others = 10 * n
tables = ("maintenance_auditentry", "sales_invoice", "sales_payment", "sales_cartitem", "sales_cart",
          "bookings_historicalbooking", "bookings_bookingitem", "bookings_booking")
with connection.cursor() as c:
    c.execute("SET FOREIGN_KEY_CHECKS = 0")
    for table in tables:
        c.execute(f"TRUNCATE TABLE {table}")
    c.execute("SET FOREIGN_KEY_CHECKS = 1")
    c.execute("SELECT id FROM catalog_service LIMIT 1")
    service = c.fetchone()[0]
    c.execute("SELECT id FROM crm_client ORDER BY id")
    ids = [row[0] for row in c.fetchall()]
    client, rest = ids[0], ids[1:]
    # Bookings 1..n are the client's; the others' are spread over the other seeded clients.
    now = "NOW() - INTERVAL 1 YEAR"
    c.execute(f"INSERT INTO bookings_booking (id, created_at, updated_at, is_demo, start, end, status, client_id, "
              f"notes) SELECT seq, {now}, {now}, 0, {now} + INTERVAL seq HOUR, {now} + INTERVAL seq HOUR "
              f"+ INTERVAL 45 MINUTE, 'COMPLETED', IF(seq <= {n}, {client}, ELT(1 + seq % {len(rest)}, "
              f"{', '.join(map(str, rest))})), CONCAT('Visita ', seq, ', «nota» ñ') FROM seq_1_to_{n + others}")
    c.execute(f"INSERT INTO bookings_bookingitem (created_at, updated_at, is_demo, name, duration_minutes, "
              f"booking_id, service_id) SELECT {now}, {now}, 0, 'Corte', 45, id, {service} FROM bookings_booking")
    c.execute("INSERT INTO bookings_historicalbooking (id, created_at, is_demo, start, end, status, client_id, "
              "notes, history_date, history_type) SELECT id, created_at, 0, start, end, status, client_id, "
              "notes, created_at, '+' FROM bookings_booking")
    c.execute(f"INSERT INTO sales_cart (id, created_at, updated_at, is_demo, status, subtotal, discount_total, "
              f"net_total, tax_total, total, completed_at, client_id, booking_id) SELECT id, {now}, {now}, 0, "
              f"'COMPLETED', 24.20, 0, 20.00, 4.20, 24.20, {now}, client_id, id FROM bookings_booking")
    c.execute(f"INSERT INTO sales_cartitem (created_at, updated_at, is_demo, cart_id, service_id, name, quantity, "
              f"unit_price, tax_rate, discount, net, tax, gross) SELECT {now}, {now}, 0, c.id, {service}, 'Corte', "
              f"1, 12.10, 21.00, 0, 10.00, 2.10, 12.10 FROM sales_cart c CROSS JOIN seq_1_to_2")
    c.execute(f"INSERT INTO sales_payment (created_at, updated_at, is_demo, cart_id, method, amount, paid_at) "
              f"SELECT {now}, {now}, 0, id, 'CARD', 24.20, {now} FROM sales_cart")
    c.execute(f"INSERT INTO sales_invoice (created_at, updated_at, is_demo, series, year, sequence_number, "
              f"number, kind, issue_date, issuer_tax_id, net_total, tax_total, total, tax_breakdown, hash, "
              f"previous_hash, cart_id, customer_name, customer_tax_id) SELECT {now}, {now}, 0, 'B', 2025, id, "
              f"CONCAT('B2025-', id), 'F2', DATE({now}), 'B00000000', 20.00, 4.20, 24.20, "
              f"'{{\\"21.00\\": \\"4.20\\"}}', SHA2(id, 256), '', id, NULL, NULL FROM sales_cart")
    c.execute(f"INSERT INTO maintenance_auditentry (created_at, actor_label, action, outcome, detail, hash, "
              f"prev_hash, target_type, target_id, target_label) SELECT {now}, 'system', 'bookings.booking.completed', "
              f"'success', '{{}}', '', '', 'bookings.booking', id, CONCAT('Booking ', id) FROM bookings_booking "
              f"UNION ALL SELECT {now}, 'system', 'sales.cart.completed', 'success', '{{}}', '', '', 'sales.cart', id, "
              f"CONCAT('Sale ', id) FROM sales_cart "
              f"UNION ALL SELECT {now}, 'system', 'crm.client.updated', 'success', '{{}}', '', '', 'crm.client', "
              f"ELT(1 + seq % {len(ids)}, {', '.join(map(str, ids))}), 'Someone' FROM seq_1_to_{10 * n}")
    # Fresh statistics, as a database that grew by use has: the plans are then the real ones.
    c.execute(f"ANALYZE TABLE {', '.join(tables)}")
    c.fetchall()
print(json.dumps({"client": client}))
"""

COMMON = """
import io, json, os, resource, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from crm.models import Client
client = Client.all_objects.get(pk=int(sys.argv[1]))
sink = open(os.devnull, "wb")
started = time.perf_counter()
"""

#: The export as it was before issue 17 (crm/gdpr.py at 63dfd4a), kept here only as the yardstick.
IN_MEMORY = """
from django.db import transaction
from django.utils import timezone
from crm.gdpr import REGISTRY, _columns, _plain, client_rows

def collect(client):
    with transaction.atomic():
        found = client_rows(client=client)
        sections = {
            h.section: {
                "model": h.get_model()._meta.label_lower,
                "personal_fields": {name: str(level) for name, level in h.fields.items()},
                "rows": [{f.attname: _plain(f.value_from_object(row)) for f in _columns(h)} for row in found[h.section]],
            }
            for h in REGISTRY
        }
    return {"schema": "beils.gdpr-export", "schema_version": 1, "generated_at": timezone.now().isoformat(),
            "client_id": client.pk, "counts": {n: len(s["rows"]) for n, s in sections.items()}, "sections": sections}
"""

VARIANTS = {
    "Beils: streamed JSON": """
from crm.gdpr import client_data_stream
for chunk in client_data_stream(client=client, actor="bench"):
    sink.write(chunk)
from audit.models import AuditEntry
rows = sum(AuditEntry.objects.filter(action="crm.client.data_exported").latest("id").detail["counts"].values())
""",
    "in memory: model instances + json.dumps": IN_MEMORY
    + """
document = collect(client)
sink.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())
rows = sum(document["counts"].values())
""",
    "Beils: ZIP via a temporary file": """
from crm.gdpr import client_data_zip_file
handle = client_data_zip_file(client=client, actor="bench")
while data := handle.read(65536):
    sink.write(data)
from audit.models import AuditEntry
rows = sum(AuditEntry.objects.filter(action="crm.client.data_exported").latest("id").detail["counts"].values())
""",
    "in memory: the ZIP as bytes (before)": IN_MEMORY
    + """
import hashlib, zipfile, csv
from datetime import datetime
document = collect(client)
files = {"client.json": json.dumps(document, indent=2, ensure_ascii=False).encode()}
for name, section in document["sections"].items():
    out = io.StringIO()
    writer = csv.writer(out)
    rows_ = section["rows"]
    header = list(rows_[0]) if rows_ else []
    writer.writerow(header)
    for row in rows_:
        writer.writerow([json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()])
    files[f"csv/{name}.csv"] = ("\\ufeff" + out.getvalue()).encode()
files["manifest.json"] = json.dumps({n: hashlib.sha256(d).hexdigest() for n, d in files.items()}).encode()
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
    for name, data in files.items():
        archive.writestr(name, data)
sink.write(buffer.getvalue())
rows = sum(document["counts"].values())
""",
    "start-up only (baseline)": """
rows = 1
""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="beils_gdpr_bench")
    parser.add_argument("--history", type=int, default=5000, help="bookings and sales of the client (default 5 000)")
    parser.add_argument("--only", help="run only the variants whose name contains this")
    args = parser.parse_args()
    env = scratch_database(args.database, clients=50)
    client = run_child(GENERATE, str(args.history), env=env)["client"]
    load = os.getloadavg()
    print(machine(f"client #{client}: {args.history:,} bookings + {args.history:,} sales in {args.database}"))
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'variant':<42}{'rows':>10}{'seconds':>9}{'rows/s':>10}{'peak MiB':>10}")
    for name, code in VARIANTS.items():
        if args.only and args.only not in name:
            continue
        r = run_child(COMMON + code + REPORT, str(client), env=env)
        print(f"{name:<42}{r['rows']:>10,}{r['seconds']:>9.2f}{r['rows'] / r['seconds']:>10,.0f}{r['rss']:>10.0f}")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
