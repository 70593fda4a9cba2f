#!/usr/bin/env python
"""Benchmark forgetting on time (issue 19) at a salon group's size, beside the obvious alternative.

A scratch MariaDB database (``beils_forget_bench``, dropped and made again each run) gets 100 000
clients with eight years of history generated in SQL (MariaDB's sequence engine): 250 000
completed sales and 250 000 bookings (2-3 per client), a data-protection consent each, 20 000
questionnaires, 20 000 debts (one in ten still owed) with their payments, a few cancelled and
upcoming bookings. 15 % of the clients went quiet more than five years ago, so about 14 000 are
due at ``--years 5``. Then ANALYZE, and each measure in its own process:

* the selection (``Client.all_objects.forgettable``: its count, and its first page of 100):
  p50/p95 of ``--loads`` runs, and its EXPLAIN;
* the admin review list (/admin/maintenance/forgettableclient/) through Django's test client as
  an ADMIN: p50/p95 and query count;
* ``manage.py forget_clients --dry-run --years 5 --json``: seconds and peak RSS;
* the real erasure of ``--erase`` due clients (``clients_forget``): rows/s;
* the obvious alternative: a Python loop over the clients asking each one's latest visit,
  purchase, debt, payment, consent and questionnaire, and open debts, with queries per client,
  on a 2 000-client sample, extrapolated to 100 000.

    .venv/bin/python bench/forget_bench.py
    .venv/bin/python bench/forget_bench.py --loads 5 --erase 200
    .venv/bin/python bench/forget_bench.py --clients 100        # the same history, 1 000 times smaller
"""

import argparse
import os
import subprocess
import sys

from _child import REPORT, ROOT, machine, print_header, print_row, run_child

DATABASE = "beils_forget_bench"
CLIENTS = 100_000
PAGE_BUDGET_MS = 1000
DRY_RUN_BUDGET_S = 30

# L(c): days since client c's latest activity; 15 % of the clients between 5 and 8 years ago.
LAST = "IF({c} % 100 < 15, 1830 + ({c} * 7919) % 1090, ({c} * 7919) % 1820)"

GENERATE = f"""
import json, os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from django.db import connection
n = int(sys.argv[1])
last = lambda c: "{LAST}".format(c=c)
ago = lambda days: f"NOW() - INTERVAL ({{days}}) DAY"
statements = [
    # Clients: created 200-500 days before their latest activity.
    f"INSERT INTO crm_client (id, created_at, updated_at, is_demo, status, name, surname, email, phone, country) "
    f"SELECT seq, {{ago(last('seq') + ' + 200 + seq % 300')}}, NOW(), 0, 'ON', CONCAT('Nombre', seq), "
    f"CONCAT('Apellido', seq % 5000), CONCAT('c', seq, '@bench.example'), CONCAT('+34600', seq), 'ES' "
    f"FROM seq_1_to_{{n}}",
    # 250 000 completed sales, one booking each: k-th of a client k*60 days before its latest.
    f"INSERT INTO bookings_booking (id, created_at, updated_at, is_demo, start, end, status, client_id) "
    f"SELECT seq + 1, {{ago('L + k * 60')}}, NOW(), 0, {{ago('L + k * 60')}}, {{ago('L + k * 60')}} + INTERVAL 45 MINUTE, "
    f"'COMPLETED', c FROM (SELECT seq, 1 + seq % {{n}} AS c, seq DIV {{n}} AS k, {{last('(1 + seq % ' + str(n) + ')')}} "
    f"AS L FROM seq_0_to_{{n * 5 // 2 - 1}}) s",
    f"INSERT INTO sales_cart (id, created_at, updated_at, is_demo, status, subtotal, discount_total, net_total, "
    f"tax_total, total, tip, completed_at, client_id, booking_id) SELECT id, created_at, NOW(), 0, 'COMPLETED', "
    f"24.20, 0, 20.00, 4.20, 24.20, 0, start, client_id, id FROM bookings_booking",
    # Cancelled bookings yesterday (not activity) and upcoming ones next week (always block).
    f"INSERT INTO bookings_booking (created_at, updated_at, is_demo, start, end, status, client_id) "
    f"SELECT NOW(), NOW(), 0, {{ago(1)}}, {{ago(1)}} + INTERVAL 1 HOUR, 'CANCELLED', seq FROM seq_1_to_{{n}} "
    f"WHERE seq % 50 = 1",
    f"INSERT INTO bookings_booking (created_at, updated_at, is_demo, start, end, status, client_id) "
    f"SELECT NOW(), NOW(), 0, NOW() + INTERVAL 7 DAY, NOW() + INTERVAL 7 DAY + INTERVAL 1 HOUR, 'CONFIRMED', seq "
    f"FROM seq_1_to_{{n}} WHERE seq % 100 = 3",
    # A data-protection consent per client, signed when the record was made.
    f"INSERT INTO crm_consent (created_at, updated_at, is_demo, kind, status, signed_at, client_id) "
    f"SELECT created_at, NOW(), 0, 'LGPD', 'SIGNED', created_at, id FROM crm_client",
    f"INSERT INTO crm_questionnaire (created_at, updated_at, is_demo, title, answers, client_id) "
    f"SELECT created_at, NOW(), 0, 'Ficha', '{{{{}}}}', id FROM crm_client WHERE id % 5 = 2",
    # Debts of every fifth client, 30 days before their latest activity; one in ten still owed.
    f"INSERT INTO sales_debt (id, created_at, updated_at, is_demo, amount, remaining, status, client_id) "
    f"SELECT seq, {{ago(last('seq') + ' + 30')}}, NOW(), 0, 50.00, IF(seq % 50 = 0, 50.00, 0), "
    f"IF(seq % 50 = 0, 'PENDING', 'PAID'), seq FROM seq_5_to_{{n}}_step_5",
    f"INSERT INTO sales_debtpayment (created_at, updated_at, is_demo, amount, method, paid_at, debt_id) "
    f"SELECT {{ago(last('id'))}}, NOW(), 0, 50.00, 'CARD', {{ago(last('id'))}}, id FROM sales_debt "
    f"WHERE status = 'PAID'",
]
with connection.cursor() as c:
    for sql in statements:
        c.execute(sql)
    # Fresh statistics, as a database that grew by use has: the plans are then the real ones.
    c.execute("ANALYZE TABLE crm_client, bookings_booking, sales_cart, sales_debt, sales_debtpayment, "
              "crm_consent, crm_questionnaire")
    c.fetchall()
    counts = {{}}
    for table in ("crm_client", "bookings_booking", "sales_cart", "sales_debt", "crm_consent", "crm_questionnaire"):
        c.execute(f"SELECT COUNT(*) FROM {{table}}")
        counts[table] = c.fetchone()[0]
from maintenance.models import RetentionPolicy
from maintenance.forget import POLICY_CODE
RetentionPolicy.objects.filter(code=POLICY_CODE).update(enabled=True, after_days=5 * 365)
print(json.dumps(counts))
"""

COMMON = """
import json, os, resource, statistics, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from datetime import timedelta
from django.db import connection
from django.utils import timezone
from crm.models import Client
loads = int(sys.argv[1])
now = timezone.now()
before = now - timedelta(days=5 * 365)

def percentiles(samples):
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) > 1 else samples[0]
    return statistics.median(samples), p95
"""

SELECTION = """
from crm.forgetting import last_activity
samples, plan = [], []
for i in range(loads + 1):
    started = time.perf_counter()
    clients = Client.all_objects.forgettable(before=before, now=now)
    rows = clients.count()
    page = [last_activity(c) for c in clients.order_by("pk")[:100]]
    if i:
        samples.append((time.perf_counter() - started) * 1000)
p50, p95 = percentiles(samples)
for label, qs in (("count", Client.all_objects.forgettable(before=before, now=now).order_by()),
                  ("page", Client.all_objects.forgettable(before=before, now=now).order_by("pk")[:100])):
    sql, params = (qs.values("pk") if label == "count" else qs).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan += [f"{label}: {r[1]} {r[2]} type={r[3]} key={r[5]} rows={r[8]} {r[9] or ''}" for r in cursor.fetchall()]
started = time.perf_counter()
print(json.dumps({"p50": p50, "p95": p95, "rows": rows, "plan": plan}))
"""

PAGE = """
from django.conf import settings
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from crm.models import Role, User
settings.DEBUG = False
settings.ALLOWED_HOSTS = ["*"]
user, _ = User.objects.get_or_create(email="bench@beils.example",
                                     defaults={"name": "Bench", "role": Role.ADMIN, "is_staff": True})
browser = Browser(raise_request_exception=False)
browser.force_login(user)
url = "/admin/maintenance/forgettableclient/"
samples = []
for i in range(loads + 1):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = browser.get(url)
        if i:
            samples.append((time.perf_counter() - started) * 1000)
assert response.status_code == 200, response.status_code
assert b"action-select" in response.content, "the list is empty"
p50, p95 = percentiles(samples)
print(json.dumps({"p50": p50, "p95": p95, "queries": len(queries), "status": response.status_code}))
"""

ERASE = (
    """
from maintenance.forget import clients_forget, forget_candidates
ids = [c.client_id for c in forget_candidates(before=before, now=now)][: int(sys.argv[2])]
started = time.perf_counter()
result = clients_forget(before=before, ids=ids, actor_label="bench/forget_bench.py", now=now)
rows = len(result.forgotten)
assert not result.refused, result.refused
"""
    + REPORT
)

#: The obvious alternative: every client's latest activity asked of each table, one client at a
#: time, then the blockers (open debt, upcoming booking) the same way; on a sample.
PYTHON_LOOP = (
    """
from django.db.models import Max
from bookings.models import Booking
from sales.models import Cart, Debt, DebtPayment
from crm.models import Consent, Questionnaire
sample = int(sys.argv[2])
step = max(1, Client.all_objects.count() // sample)
pks = list(Client.all_objects.order_by("pk").values_list("pk", flat=True))[::step][:sample]
started = time.perf_counter()
due = 0
for client in Client.all_objects.filter(pk__in=pks, erased_at=None):
    dates = [
        Booking.objects.filter(client=client).exclude(status="CANCELLED").aggregate(m=Max("start"))["m"],
        Cart.objects.filter(client=client).exclude(status="CANCELLED").aggregate(m=Max("completed_at"))["m"],
        Debt.objects.filter(client=client).aggregate(m=Max("created_at"))["m"],
        DebtPayment.objects.filter(debt__client=client).aggregate(m=Max("paid_at"))["m"],
        Consent.objects.filter(client=client).aggregate(m=Max("signed_at"))["m"],
        Questionnaire.objects.filter(client=client).aggregate(m=Max("created_at"))["m"],
    ]
    latest = max([d for d in dates if d] or [client.created_at])
    if latest < before and not Debt.objects.filter(client=client).exclude(status="PAID").exists():
        due += 1
rows = len(pks)
"""
    + REPORT
)


def mariadb(sql: str) -> str:
    cmd = ["mariadb", "--protocol=tcp", "-h", "127.0.0.1", "-u", "root", "-N", "-e", sql]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed_command(env: dict) -> dict:
    """``forget_clients --dry-run --years 5 --json`` in its own process: seconds and peak RSS
    (GNU time's maximum resident set, of the command's process)."""
    import time

    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "manage.py", "forget_clients", "--dry-run"]
    cmd += ["--years", "5", "--json"]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    import json

    due = len(json.loads(done.stdout)["due"])
    return {"rows": due, "seconds": seconds, "rss": int(done.stderr.strip().splitlines()[-1]) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--clients", type=int, default=CLIENTS, help="clients to seed (default 100 000)")
    parser.add_argument("--erase", type=int, default=1000, help="due clients to erase for real (default 1 000)")
    parser.add_argument("--sample", type=int, default=2000, help="clients of the Python loop's sample")
    parser.add_argument("--reuse", action="store_true", help="keep the database of the last run (if any)")
    args = parser.parse_args()
    env = {
        "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DATABASE}",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7"),
        "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/8"),
    }
    if not args.reuse:
        mariadb(f"DROP DATABASE IF EXISTS {DATABASE}; CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_unicode_ci")  # fmt: skip
        full_env = {**os.environ, **env}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=full_env, check=True)
        counts = run_child(GENERATE, str(args.clients), env=env)
        print("seeded:", ", ".join(f"{table} {count:,}" for table, count in counts.items()))
    print(machine(f"{DATABASE} · {args.clients:,} clients · 5-year limit"))
    print("before:", uptime())
    loads = str(args.loads)

    s = run_child(COMMON + SELECTION, loads, env=env)
    print(f"\nselection (count + first page of 100), {args.loads} runs: p50 {s['p50']:.0f} ms, "
          f"p95 {s['p95']:.0f} ms; {s['rows']:,} clients due")  # fmt: skip
    print("EXPLAIN:\n  " + "\n  ".join(s["plan"]))
    p = run_child(COMMON + PAGE, loads, env=env)
    verdict = "ok" if p["p95"] <= PAGE_BUDGET_MS else "OVER"
    print(f"\nadmin review list, first page: p50 {p['p50']:.0f} ms, p95 {p['p95']:.0f} ms, {p['queries']} queries; "
          f"budget {PAGE_BUDGET_MS} ms p95: {verdict}")  # fmt: skip

    print()
    print_header(44)
    dry = timed_command(env)
    print_row("forget_clients --dry-run --years 5 --json", dry, 44)
    loop = run_child(COMMON + PYTHON_LOOP, loads, str(args.sample), env=env)
    print_row(f"Python loop, per-client queries ({args.sample:,})", loop, 44)
    factor = args.clients / loop["rows"]
    print(f"{'  … extrapolated to ' + format(args.clients, ',') + ' clients':<44}{args.clients:>10,}"
          f"{loop['seconds'] * factor:>9.0f}{args.clients / (loop['seconds'] * factor):>10,.0f}")  # fmt: skip
    erased = run_child(COMMON + ERASE, loads, str(args.erase), env=env)
    print_row(f"clients_forget: erase {args.erase:,} due clients", erased, 44)
    verdict = "ok" if dry["seconds"] <= DRY_RUN_BUDGET_S else "OVER"
    print(f"\ndry run budget {DRY_RUN_BUDGET_S} s: {verdict}")
    print("after:", uptime())


if __name__ == "__main__":
    main()
