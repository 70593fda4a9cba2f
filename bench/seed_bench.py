#!/usr/bin/env python
"""Benchmark ``manage.py seed``: bulk inserts against one ``save()`` per row, in one run.

Each variant runs in its own process against a freshly migrated scratch database and reports
rows, seconds, rows/s and peak memory (max RSS). The per-row variant uses the very same data
generator with ``put`` replaced by a loop of ``save()`` calls, so the only difference is how
rows reach the database.

    .venv/bin/python bench/seed_bench.py                      # 100 000 clients vs 2 000 per-row
    .venv/bin/python bench/seed_bench.py --clients 20000 --naive-clients 1000
    BENCH_DATABASE_URL=mysql://root@127.0.0.1:3306/beils_bench .venv/bin/python bench/seed_bench.py
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from _child import ROOT, machine, run_child

DEFAULT_URL = "mysql://root@127.0.0.1:3306/beils_bench"

CHILD = r"""
import json, os, sys, time, resource
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from demo import services
from demo.builders.salon import Salon

if sys.argv[2] == "per-row":
    def put(self, model, objs):
        for obj in objs:
            obj.save()
        self.counts[model._meta.label] += len(objs)
        return objs
    Salon.put = put

started = time.perf_counter()
report = services.demo_data_seed(clients=int(sys.argv[1]), random_seed=42)
seconds = time.perf_counter() - started
rows = sum(report.counts.values())
print(json.dumps({"rows": rows, "seconds": seconds,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def recreate_database(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme.startswith("mysql"):
        name = parsed.path.lstrip("/")
        sql = f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        subprocess.run(
            [
                "mariadb",
                "--protocol=tcp",
                "-h",
                parsed.hostname or "127.0.0.1",
                "-u",
                parsed.username or "root",
                "-e",
                sql,
            ],
            check=True,
        )
    elif parsed.scheme == "sqlite":
        # sqlite:////abs/path has the path "//abs/path", sqlite:///rel/path "/rel/path".
        Path(parsed.path[1:]).unlink(missing_ok=True)
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def run(url: str, clients: int, variant: str) -> dict:
    recreate_database(url)
    result = run_child(CHILD, str(clients), variant, env={"DATABASE_URL": url})
    result.update(variant=variant, clients=clients, rows_per_s=result["rows"] / result["seconds"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--naive-clients", type=int, default=2_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()

    print(machine(args.database_url))
    # Bulk last, so that the scratch database keeps the big salon for bench/backup_bench.py.
    naive = run(args.database_url, args.naive_clients, "per-row")
    results = [run(args.database_url, args.clients, "bulk"), naive]
    print(f"{'variant':<10}{'clients':>10}{'rows':>12}{'seconds':>10}{'rows/s':>10}{'peak MiB':>10}")
    for r in results:
        print(
            f"{r['variant']:<10}{r['clients']:>10,}{r['rows']:>12,}{r['seconds']:>10.1f}{r['rows_per_s']:>10,.0f}{r['peak_rss_mib']:>10.0f}"
        )
    bulk, naive = results
    print(f"bulk is {bulk['rows_per_s'] / naive['rows_per_s']:.1f}x the per-row rate; "
          f"per-row would take ~{bulk['rows'] / naive['rows_per_s'] / 60:.0f} min for {args.clients:,} clients")  # fmt: skip


if __name__ == "__main__":
    main()
