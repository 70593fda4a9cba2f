#!/usr/bin/env python
"""Benchmark backups and restores against the raw tools, in one run, on a seeded database.

Seed the database first (bench/seed_bench.py leaves 100 000 clients, ~1.8 M rows, in
beils_bench). The bench writes to it (a probe table, the backups' catalogue and audit entries),
so a shared one is best copied first, then:

    .venv/bin/python bench/backup_bench.py [--database beils_bench] [--levels 3 5] [--workers 1 2 3]

Every comparison is paired, in the same run, rounds alternating, with the load average beside
each result (the machine may be shared). Backups: ``mariadb-dump | gzip -6`` against
``backup_create()`` in a running process at each gzip level, with wall time, size (and its
ratio to gzip -6), the largest process's peak memory, and how long single-row INSERTs made by
another connection every 20 ms had to wait while the backup ran (max and p99). Restores, into
a fresh database: plain ``gunzip < file | mariadb`` against ``manage.py restore`` (verify +
load into scratch + row counts + swap) with each number of loading connections.
"""

import argparse
import itertools
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
# nightly: the ~1 s of interpreter and Django start-up of a management command is not counted,
# in the time or in the INSERT waits (only those made between "from" and "to").
IN_PROCESS = """
import json, os, resource, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from backups.services import backup_create
started, since = time.perf_counter(), time.time()
backup = backup_create()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "size": backup.size_bytes, "from": since, "to": time.time(),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def in_process(env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", IN_PROCESS], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def measured(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a command; return (seconds, peak RSS MiB of its largest process, stdout)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", RSS, *command], env=env, check=True, stdout=subprocess.PIPE, text=True
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
        self.times: list[float] = []  # when each INSERT ended
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        cursor = self.db.cursor()
        while not self.stop.is_set():
            started = time.perf_counter()
            cursor.execute("INSERT INTO bench_probe (at) VALUES (NOW(6))")
            self.waits.append((time.perf_counter() - started) * 1000)
            self.times.append(time.time())
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.db.cursor().execute("DROP TABLE IF EXISTS bench_probe")

    def summary(self, since: float = 0, until: float = float("inf")) -> dict:
        waits = [wait for wait, at in zip(self.waits, self.times, strict=True) if since <= at <= until]
        return {"max": max(waits), "p99": statistics.quantiles(waits, n=100)[98], "inserts": len(waits)}


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
    parser.add_argument("--levels", type=int, nargs="+", default=[5], help="gzip levels of the in-process backup")
    parser.add_argument("--backup-rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3], help="BACKUP_RESTORE_WORKERS to compare")
    parser.add_argument("--restore-rounds", type=int, default=3)
    parser.add_argument("--target", help="the database restores go to (default: DATABASE_restore_bench)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="beils-backup-bench-"))
    cnf = client_cnf(work)
    env = {**os.environ, "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{args.database}", "BACKUP_DIR": str(work / "backups"),
           "BACKUP_BEFORE_MIGRATE": "false"}  # fmt: skip
    sql_bytes = int(subprocess.run(f"mariadb-dump --defaults-extra-file={cnf} --single-transaction --quick {args.database} | wc -c",
                                   shell=True, check=True, capture_output=True, text=True).stdout)  # fmt: skip
    rows = MySQLdb.connect(user="root", host="127.0.0.1", database=args.database).cursor()
    rows.execute("SELECT SUM(table_rows) FROM information_schema.tables WHERE table_schema = DATABASE()")
    print(
        f"machine: {platform.node()} · {os.cpu_count()} cores · {shutil.which('pigz') and 'pigz' or 'gzip'} · load {load()}"
    )
    print(f"database: {args.database}, ~{int(rows.fetchone()[0]):,} rows, {sql_bytes / 1e6:.0f} MB of SQL\n")

    plain = f"mariadb-dump --defaults-extra-file={cnf} --single-transaction --quick --routines --triggers --events --hex-blob"
    backups: dict[str, list[dict]] = {}
    for _ in range(args.backup_rounds):
        with InsertProbe(args.database) as probe:
            started, before = time.perf_counter(), load()
            subprocess.run(f"{plain} {args.database} | gzip -6 > {work / 'raw.sql.gz'}", shell=True, check=True)
            seconds = time.perf_counter() - started
        backups.setdefault("mariadb-dump | gzip -6", []).append(
            {
                "seconds": seconds,
                "size": (work / "raw.sql.gz").stat().st_size,
                "rss": 0,
                "load": before,
                **probe.summary(),
            }
        )
        for level in args.levels:
            with InsertProbe(args.database) as probe:
                before = load()
                worker = in_process({**env, "BACKUP_COMPRESSION_LEVEL": str(level)})
            backups.setdefault(f"backup_create(), level {level}", []).append(
                {
                    **worker,
                    "rss": max(worker["rss"], worker["rss_children"]),
                    "load": before,
                    **probe.summary(worker["from"], worker["to"]),
                }
            )
    raw_size = statistics.median(r["size"] for r in backups["mariadb-dump | gzip -6"])
    print(
        f"backup ({args.backup_rounds} rounds, alternating)  seconds   size MB  × gzip -6  peak MiB  INSERT wait max / p99 ms: median, each round (load)"
    )
    for name, runs in backups.items():
        size = statistics.median(r["size"] for r in runs)
        waits = (
            f"{statistics.median(r['max'] for r in runs):.0f}/{statistics.median(r['p99'] for r in runs):.0f}: "
            + "  ".join(f"{r['max']:.0f}/{r['p99']:.0f} ({r['load']})" for r in runs)
        )
        print(f"{name:<36}{statistics.median(r['seconds'] for r in runs):>7.1f}{size / 1e6:>10.1f}{size / raw_size:>10.3f}"
              f"{max(r['rss'] for r in runs):>10.0f}  {waits}")  # fmt: skip

    if args.restore_rounds:
        restores(args, work, env, cnf)
    shutil.rmtree(work)


def restores(args, work: Path, env: dict, cnf: str) -> None:
    # Restores into a fresh database, alternating (InnoDB's background flushing and the other
    # users of the machine make single runs vary by seconds); medians reported.
    backup_file = sorted((work / "backups").glob("*.sql.gz"))[-1]
    target = args.target or f"{args.database}_restore_bench"
    target_env = {**env, "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{target}"}
    timings: dict[str, list[tuple]] = {}
    variants = [0, *args.workers]
    # Each round in another order: a machine that calms down (or gets busy) favours no variant.
    for round_, offset in itertools.product(range(args.restore_rounds), range(len(variants))):
        workers = variants[(offset + round_) % len(variants)]
        recreate(target)
        before = load()
        if workers == 0:
            name, command, run_env = (
                "gunzip | mariadb",
                ["sh", "-c", f"gunzip < {backup_file} | mariadb --defaults-extra-file={cnf} {target}"],
                None,
            )
        else:
            name = f"manage.py restore, {workers} connection{'s' if workers > 1 else ''}"
            command = [sys.executable, "manage.py", "restore", str(backup_file), "--noinput", "--no-safety-backup"]
            run_env = {**target_env, "BACKUP_RESTORE_WORKERS": str(workers)}
        timings.setdefault(name, []).append((*measured(command, env=run_env)[:2], before))
    raw_median = statistics.median(t[0] for t in timings["gunzip | mariadb"])
    print(
        f"\n{'restore (' + str(args.restore_rounds) + ' rounds, alternating)':<36}{'median s':>9}{'× raw':>7}  runs s (load){'peak MiB':>28}"
    )
    for name, runs in timings.items():
        median = statistics.median(t[0] for t in runs)
        print(f"{name:<36}{median:>9.1f}{median / raw_median:>7.2f}  {'  '.join(f'{t[0]:.1f} ({t[2]})' for t in runs):<34}"
              f"{max(t[1] for t in runs):>8.0f}")  # fmt: skip
    print(
        f"manage.py restore checks the file's SHA-256 first and the contents against the manifest while loading. load at the end {load()}"
    )
    MySQLdb.connect(user="root", host="127.0.0.1", autocommit=True).cursor().execute(f"DROP DATABASE `{target}`")


if __name__ == "__main__":
    main()
