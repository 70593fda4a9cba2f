#!/usr/bin/env python
"""Benchmark the import from a legacy Beils Dashboard database: a synthetic installation of N
clients (``make_legacy_data.py``, with its bookings, sales, bonos and debts) in a scratch MariaDB
database, imported into an empty, migrated Beils database; then the same import again (every row
found unchanged), after a dry run on the empty database.

Each variant runs in its own process, so its peak memory is its own. Rows are the legacy rows read
(every table), so rows/s compares across installation sizes.

    .venv/bin/python bench/legacy_bench.py                      # 50 000 clients
    .venv/bin/python bench/legacy_bench.py --clients 5000 --keep
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

from _child import REPORT, ROOT, machine, print_header, print_row, run_child

LEGACY_DIR = Path(os.environ.get("LEGACY_FIXTURES_DIR", "/work/shared/legacy"))

COMMON = """
import json, os, resource, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from legacy.services import legacy_import
url, dry_run = sys.argv[1], sys.argv[2] == "dry"
started = time.perf_counter()
report = legacy_import(url=url, dry_run=dry_run)
assert report["reconciled"], [c for c in report["checks"] if not c["ok"]]
rows = sum(c["read"] for c in report["counts"].values())
"""

VARIANTS = {"dry run (empty Beils, rolled back)": "dry", "import into an empty Beils": "real",
            "import again (all unchanged)": "real"}  # fmt: skip


def mariadb(*args: str, stdin=None) -> None:
    cli = ["mariadb", "--protocol=tcp", "-h", "127.0.0.1", "-u", "root"]
    subprocess.run([*cli, *args], stdin=stdin, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--legacy-database", default="legacy_h1_bench")
    parser.add_argument("--database", default="beils_h1_bench_legacy")
    parser.add_argument("--keep", action="store_true", help="keep both databases afterwards")
    args = parser.parse_args()
    create = "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    for name in (args.legacy_database, args.database):
        mariadb("-e", f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` {create}")
    try:
        with (LEGACY_DIR / "schema.sql").open("rb") as schema:
            mariadb(args.legacy_database, stdin=schema)
        generator = subprocess.Popen(
            [sys.executable, str(LEGACY_DIR / "make_legacy_data.py"), "--clients", str(args.clients),
             "--seed", str(args.seed)],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        mariadb(args.legacy_database, stdin=generator.stdout)
        if generator.wait():
            raise SystemExit("make_legacy_data.py failed")
        env = {"DATABASE_URL": f"mysql://root@127.0.0.1:3306/{args.database}"}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
        )
        url = f"mysql://root@127.0.0.1:3306/{args.legacy_database}"
        print(machine(f"{args.clients:,} legacy clients in {args.legacy_database}, MariaDB, batches of 1 000"))
        print_header()
        for name, mode in VARIANTS.items():
            print_row(name, run_child(COMMON + REPORT, url, mode, env=env))
    finally:
        if not args.keep:
            for name in (args.legacy_database, args.database):
                mariadb("-e", f"DROP DATABASE IF EXISTS `{name}`")


if __name__ == "__main__":
    main()
