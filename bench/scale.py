#!/usr/bin/env python
"""Every screen and every data operation at a real salon group's size, beside its budget.

Seeds the large salon once into a scratch MariaDB database (100 000 clients with three years of
history, about 246 000 sales, and the audit trail topped up to 300 000 entries), reused by later
runs, then:

* ``pages``: every admin changelist and change form, and a few everyday filtered lists, each
  loaded 20 times (after two warm-up loads) through Django's test client as an ADMIN; p50, p95,
  the query count (constant between loads, so no N+1) and the budget (300 ms p95);
* ``api``: every API list (150 ms p95), the same way;
* ``ops``: the data operations, each paired with its obvious alternative in the same run, by the
  benchmarks beside this one (``export_bench``, ``import_bench``, ``backup_bench``,
  ``gdpr_bench``, start-up).

    .venv/bin/python bench/scale.py                    # seed if needed, then pages, api and ops
    .venv/bin/python bench/scale.py pages api          # only the screens
    .venv/bin/python bench/scale.py --loads 5 pages    # quicker
    BENCH_DATABASE_URL=mysql://root@127.0.0.1:3306/other .venv/bin/python bench/scale.py

Budgets live here, not in timed tests; the suite pins query counts and index use instead.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from urllib.parse import urlparse

from _child import ROOT, machine
from seed_bench import recreate_database

DEFAULT_URL = "mysql://root@127.0.0.1:3306/beils_bench"
CLIENTS = 100_000
AUDIT_ENTRIES = 300_000
PAGE_BUDGET_MS = 300
API_BUDGET_MS = 150


def mariadb(url: str, sql: str, database: str | None = None) -> str:
    parsed = urlparse(url)
    cmd = ["mariadb", "--protocol=tcp", "-h", parsed.hostname or "127.0.0.1", "-u", parsed.username or "root", "-N"]
    cmd += ["-P", str(parsed.port or 3306), "-e", sql]
    if database:
        cmd.append(database)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def seed(url: str, force: bool) -> None:
    """The big salon, made once: ``seed --clients 100000``, then the audit trail topped up."""
    name = urlparse(url).path.lstrip("/")
    exists = mariadb(url, f"SHOW DATABASES LIKE '{name}'")
    clients = int(mariadb(url, "SELECT COUNT(*) FROM crm_client", name) or 0) if exists else 0
    env = {**os.environ, "DATABASE_URL": url}
    if force or clients < CLIENTS:
        recreate_database(url)
        started = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "seed", "--clients", str(CLIENTS)], cwd=ROOT, env=env, check=True)
        print(f"seeded {CLIENTS:,} clients in {time.perf_counter() - started:.0f} s")
    subprocess.run([sys.executable, "manage.py", "demo_admin"], cwd=ROOT, env=env, check=True, capture_output=True)
    entries = int(mariadb(url, "SELECT COUNT(*) FROM maintenance_auditentry", name))
    if entries < AUDIT_ENTRIES:
        started = time.perf_counter()
        top_up_audit_trail(AUDIT_ENTRIES - entries)
        print(f"audit trail topped up by {AUDIT_ENTRIES - entries:,} entries in {time.perf_counter() - started:.0f} s")


def top_up_audit_trail(count: int) -> None:
    """Chained entries spread over three years, as a busy group's nightly jobs, exports and
    sign-ins leave them; written in bulk, the chain computed as ``AuditEntry.save`` would."""
    import random
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from audit.models import AuditChainHead, AuditEntry, Outcome

    actions = ["backup.create", "backup.verify", "export.clients", "import.clients", "auth.login", "restore.test",
               "archive.run", "cleanup.run", "gdpr.export", "client.merge"]  # fmt: skip
    rnd = random.Random(7)
    start = timezone.now() - timedelta(days=3 * 365)
    step = timedelta(days=3 * 365) / count
    with transaction.atomic():
        head = AuditChainHead.locked("default")
        prev, last_id = head.last_hash, head.last_id
        for offset in range(0, count, 5_000):
            batch = []
            for i in range(offset, min(count, offset + 5_000)):
                entry = AuditEntry(
                    created_at=start + step * i, actor_label=f"staff{rnd.randrange(40)}@salon.example",
                    action=rnd.choice(actions), target_type="crm.client", target_id=str(rnd.randrange(1, CLIENTS)),
                    target_label="Cliente", outcome=Outcome.FAILURE if rnd.random() < 0.02 else Outcome.SUCCESS,
                    detail={"rows": rnd.randrange(1000)}, ip_address=f"10.0.0.{rnd.randrange(1, 250)}",
                    prev_hash=prev,
                )  # fmt: skip
                entry.hash = prev = entry.compute_hash()
                batch.append(entry)
            # bulk_create bypasses save(), which would lock the head once per entry.
            last_id = AuditEntry.objects.bulk_create(batch)[-1].pk or AuditEntry.objects.order_by("-pk")[0].pk
        AuditChainHead.objects.filter(pk=head.pk).update(last_id=last_id, last_hash=prev)


def server_memory(url: str) -> str:
    """The buffer pool beside the salon's size: a pool smaller than the data reads pages from
    disk on every load (docs/deploy.md sizes it)."""
    name = urlparse(url).path.lstrip("/")
    pool = int(mariadb(url, "SELECT @@innodb_buffer_pool_size")) >> 20
    size = int(float(mariadb(url, "SELECT SUM(data_length + index_length) FROM information_schema.tables "
                                  f"WHERE table_schema = '{name}'"))) >> 20  # fmt: skip
    note = "" if pool >= size else " (smaller than the data: expect disk reads)"
    return f"buffer pool {pool} MiB, data {size} MiB{note}"


def timed(client, url: str, loads: int) -> tuple[list[float], int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        client.get(url)
    samples = []
    for _ in range(loads):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            samples.append((time.perf_counter() - started) * 1000)
    return samples, len(queries), response.status_code


def admin_pages() -> list[tuple[str, str]]:
    from django.contrib import admin
    from django.urls import reverse

    pages = []
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label):
        opts = model._meta
        pages.append((f"{opts.label} list", reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")))
        newest = model_admin.get_queryset(_request()).order_by("-pk").values_list("pk", flat=True).first()
        if newest is not None:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[newest])
            pages.append((f"{opts.label} change", url))
    everyday = [
        ("crm.Client list, search", "/admin/crm/client/?q=garcia"),
        ("crm.Client list, missing consent", "/admin/crm/client/?missing_consent=yes"),
        ("bookings.Booking list, today", "/admin/bookings/booking/?when=today"),
        ("sales.Cart list, completed", "/admin/sales/cart/?status__exact=COMPLETED"),
        ("audit.AuditEntry list, failures", "/admin/audit/auditentry/?outcome__exact=FAILURE"),
        ("audit.AuditEntry list, one action", "/admin/audit/auditentry/?action=backup.create"),
        ("sales.Cart reports", "/admin/sales/cart/reports/"),
        ("sales.Cart reports, recomputed", "/admin/sales/cart/reports/?refresh=1"),  # not from the cache
        ("admin index", "/admin/"),
    ]
    return pages + everyday


def api_pages() -> list[tuple[str, str]]:
    from beils.urls import router

    return [(f"api {prefix}", f"/api/{prefix}/") for prefix, _viewset, _basename in router.registry]


def _request():
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = bench_user()
    return request


def bench_user():
    from crm.models import Role, User

    user, _ = User.objects.get_or_create(
        email="bench@beils.example", defaults={"name": "Bench", "role": Role.ADMIN, "is_staff": True}
    )
    return user


def measure(sections: list[str], loads: int, only: str = "") -> list[dict]:
    from django.conf import settings
    from django.test import Client

    settings.DEBUG = False  # as in production: no query log, no debug pages
    client = Client(raise_request_exception=False)
    client.force_login(bench_user())
    plan = []
    if "pages" in sections:
        plan += [(name, url, PAGE_BUDGET_MS) for name, url in admin_pages()]
    if "api" in sections:
        plan += [(name, url, API_BUDGET_MS) for name, url in api_pages()]
    plan = [page for page in plan if only.lower() in page[0].lower()]
    results = []
    print(f"{'page':<48}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}{'budget':>8}  status")
    for name, url, budget in plan:
        samples, queries, status = timed(client, url, loads)
        p50 = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) > 1 else samples[0]
        verdict = "ok" if p95 <= budget and status == 200 else ("OVER" if status == 200 else f"HTTP {status}")
        results.append(dict(name=name, url=url, p50=p50, p95=p95, queries=queries, budget=budget, verdict=verdict))
        print(f"{name:<48}{p50:>9.0f}{p95:>9.0f}{queries:>9}{budget:>8}  {verdict}", flush=True)
    over = [r for r in results if r["verdict"] != "ok"]
    print(f"{len(results) - len(over)} of {len(results)} within budget" + (": over: " + ", ".join(r["name"] for r in over) if over else ""))  # fmt: skip
    return results


def plans() -> None:
    """EXPLAIN of every big list's page query at this size: the index it is read along, or the
    sort it needs (small tables may sort: the optimizer's choice, and cheap)."""
    from django.contrib import admin
    from django.db import connection
    from django.test import RequestFactory

    from beils.lib.changelists import BigListMixin

    print(f"{'big list (page query)':<32}{'rows':>10}  plan")
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label):
        if not isinstance(model_admin, BigListMixin):
            continue
        request = RequestFactory().get("/")
        request.user = bench_user()
        changelist = model_admin.get_changelist_instance(request)
        sql, params = changelist.queryset[: changelist.list_per_page].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            first = cursor.fetchone()
            cursor.fetchall()
        rows = model._default_manager.count() if model._meta.db_table else 0
        sort = "; sorts" if "filesort" in (first[9] or "") else ""
        plan = f"index {first[5]}{sort}" if first[5] else f"scan{sort}"
        print(f"{model._meta.label:<32}{rows:>10,}  {plan}")


def operations(url: str) -> None:
    """The data operations, each benchmark pairing Beils with the obvious alternative."""
    env = {**os.environ, "BENCH_DATABASE_URL": url}
    name = urlparse(url).path.lstrip("/")
    runs = [
        ["bench/startup_bench.py"],
        ["bench/export_bench.py", "--database", name],
        ["bench/import_bench.py", "--rows", "100000", "--library-rows", "2000"],
        ["bench/gdpr_bench.py"],
        ["bench/backup_bench.py", "--database", name],
    ]
    for args in runs:
        if not (ROOT / args[0]).exists():
            print(f"-- {args[0]}: not there yet")
            continue
        print(f"-- {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", metavar="pages|api|ops", help="what to measure (default: all)")
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--only", default="", metavar="TEXT", help="only the pages whose name contains TEXT")
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed it again")
    args = parser.parse_args()
    sections = args.sections or ["pages", "api", "ops"]
    if unknown := set(sections) - {"pages", "api", "ops"}:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    import django

    django.setup()
    seed(args.database_url, args.reseed)
    print(machine(args.database_url), f"· load {os.getloadavg()[0]:.2f} · {server_memory(args.database_url)}")
    if {"pages", "api"} & set(sections):
        measure(sections, args.loads, args.only)
    if "pages" in sections:
        plans()
    if "ops" in sections:
        operations(args.database_url)


if __name__ == "__main__":
    main()
