#!/usr/bin/env python
"""Benchmark backups and restores against the raw tools, in one run, on a seeded database.

Seed the database first (bench/seed_bench.py leaves 100 000 clients, ~1.8 M rows, in
beils_bench), then:

    .venv/bin/python bench/backup_bench.py [--database beils_bench] [--levels 1 3 6]

For each variant it reports wall time, size, throughput of uncompressed SQL, the largest
process's peak memory, and how long single-row INSERTs made by another connection every 20 ms
had to wait while the backup ran (max and p99). Restores are timed into a fresh database:
``manage.py restore`` (verify + load into scratch + row counts + swap) against plain
``gunzip < file | mariadb``.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import MySQLdb

ROOT = Path(__file__).resolve().parent.parent
RSS = "import resource,subprocess,sys; subprocess.run(sys.argv[1:], check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"


# backup_create() inside an already started Django process, as the Celery worker runs it
# nightly: the ~1 s of interpreter and Django start-up of a management command is not counted.
IN_PROCESS = """
import json, os, resource, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from backups.services import backup_create
started = time.perf_counter()
backup = backup_create()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "size": backup.size_bytes,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def in_process(env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", IN_PROCESS], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measured(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a command; return (seconds, peak RSS MiB of its largest process, stdout)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", RSS, *command], env=env, check=True, capture_output=True, text=True
    ).stdout
    lines = out.strip().splitlines()
    return time.perf_counter() - started, int(lines[-1]) / 1024, "\n".join(lines[:-1])


class InsertProbe:
    """Inserts one row every 20 ms on its own connection and records how long each took."""

    def __init__(self, database: str):
        self.db = MySQLdb.connect(user="root", host="127.0.0.1", database=database, autocommit=True)
        self.db.cursor().execute(
            "CREATE TABLE IF NOT EXISTS bench_probe (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6))"
        )
        self.waits: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        cursor = self.db.cursor()
        while not self.stop.is_set():
            started = time.perf_counter()
            cursor.execute("INSERT INTO bench_probe (at) VALUES (NOW(6))")
            self.waits.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.db.cursor().execute("DROP TABLE IF EXISTS bench_probe")

    def summary(self) -> str:
        if len(self.waits) < 2:
            return "n/a"
        p99 = statistics.quantiles(self.waits, n=100)[98]
        return f"max {max(self.waits):.1f} ms, p99 {p99:.1f} ms ({len(self.waits)} inserts)"


def client_cnf(directory: Path) -> str:
    path = directory / "client.cnf"
    path.write_text("[client]\nuser=root\nhost=127.0.0.1\n")
    return str(path)


def recreate(database: str) -> None:
    db = MySQLdb.connect(user="root", host="127.0.0.1", autocommit=True)
    db.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
    db.cursor().execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="beils_bench")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--restore-rounds", type=int, default=3)
    parser.add_argument("--small-database", default="beils_dev", help="A small seeded database, to compare memory.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="beils-backup-bench-"))
    cnf = client_cnf(work)
    env = {**os.environ, "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{args.database}", "BACKUP_DIR": str(work / "backups"),
           "BACKUP_BEFORE_MIGRATE": "false"}  # fmt: skip
    sql_bytes = int(subprocess.run(f"mariadb-dump --defaults-extra-file={cnf} --single-transaction --quick {args.database} | wc -c",
                                   shell=True, check=True, capture_output=True, text=True).stdout)  # fmt: skip
    rows = MySQLdb.connect(user="root", host="127.0.0.1", database=args.database).cursor()
    rows.execute("SELECT SUM(table_rows) FROM information_schema.tables WHERE table_schema = DATABASE()")
    print(f"machine: {platform.node()} · {os.cpu_count()} cores · {shutil.which('pigz') and 'pigz' or 'gzip'}")
    print(f"database: {args.database}, ~{int(rows.fetchone()[0]):,} rows, {sql_bytes / 1e6:.0f} MB of SQL\n")

    results = []
    with InsertProbe(args.database) as probe:
        seconds, rss, _ = measured(["sh", "-c", f"mariadb-dump --defaults-extra-file={cnf} --single-transaction --quick "
                                    f"--routines --triggers --events --hex-blob {args.database} | gzip > {work / 'raw.sql.gz'}"])  # fmt: skip
    raw = {"variant": "mariadb-dump | gzip -6", "seconds": seconds, "size": (work / "raw.sql.gz").stat().st_size, "rss": rss,
           "inserts": probe.summary()}  # fmt: skip
    results.append(raw)
    ours = {}
    for level in args.levels:
        with InsertProbe(args.database) as probe:
            seconds, rss, out = measured(
                [sys.executable, "manage.py", "backup", "--json"], env={**env, "BACKUP_COMPRESSION_LEVEL": str(level)}
            )
        report = json.loads(out)
        ours[level] = report
        results.append({"variant": f"manage.py backup (pigz -{level})", "seconds": seconds, "size": report["size"], "rss": rss,
                        "inserts": probe.summary()})  # fmt: skip

    with InsertProbe(args.database) as probe:
        worker = in_process({**env, "BACKUP_COMPRESSION_LEVEL": "3"})
    results.append({"variant": "backup_create() in worker (-3)", "seconds": worker["seconds"], "size": worker["size"],
                    "rss": max(worker["rss"], worker["rss_children"]), "inserts": probe.summary()})  # fmt: skip
    print(
        f"{'backup':<30}{'seconds':>9}{'× raw':>7}{'MB/s SQL':>10}{'size MB':>9}{'peak MiB':>10}  concurrent INSERT waits"
    )
    for r in results:
        print(f"{r['variant']:<30}{r['seconds']:>9.1f}{r['seconds'] / raw['seconds']:>7.2f}{sql_bytes / 1e6 / r['seconds']:>10.0f}"
              f"{r['size'] / 1e6:>9.1f}{r['rss']:>10.0f}  {r['inserts']}")  # fmt: skip

    if args.small_database:
        small = in_process({**env, "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{args.small_database}"})
        print(f"\nmemory is flat in the data size: {args.small_database} ({small['size'] / 1e6:.1f} MB compressed) peaks at "
              f"{small['rss']:.0f} MiB in Python, {args.database} ({worker['size'] / 1e6:.1f} MB) at {worker['rss']:.0f} MiB")  # fmt: skip

    # Restores into a fresh database, alternating raw and ours (InnoDB's background flushing
    # makes single runs vary by several seconds); medians reported.
    default_level = 3 if 3 in ours else args.levels[0]
    backup_file = Path(ours[default_level]["path"])
    target = f"{args.database}_restore_bench"
    target_env = {**env, "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{target}"}
    timings = {"gunzip | mariadb": [], "manage.py restore": []}
    for _ in range(args.restore_rounds):
        recreate(target)
        timings["gunzip | mariadb"].append(
            measured(["sh", "-c", f"gunzip < {backup_file} | mariadb --defaults-extra-file={cnf} {target}"])
        )
        recreate(target)
        timings["manage.py restore"].append(
            measured(
                [sys.executable, "manage.py", "restore", str(backup_file), "--noinput", "--no-safety-backup"],
                env=target_env,
            )
        )
    raw_median = statistics.median(t[0] for t in timings["gunzip | mariadb"])
    print(
        f"\n{'restore (' + str(args.restore_rounds) + ' rounds)':<30}{'median s':>9}{'× raw':>7}{'runs':>18}{'peak MiB':>10}"
    )
    for name, runs in timings.items():
        median = statistics.median(t[0] for t in runs)
        print(f"{name:<30}{median:>9.1f}{median / raw_median:>7.2f}{' '.join(f'{t[0]:.1f}' for t in runs):>18}"
              f"{max(t[1] for t in runs):>10.0f}")  # fmt: skip
    print("manage.py restore checks the file's SHA-256 first and the contents against the manifest while loading.")
    recreate(target)
    MySQLdb.connect(user="root", host="127.0.0.1", autocommit=True).cursor().execute(f"DROP DATABASE `{target}`")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
