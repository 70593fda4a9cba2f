"""What every benchmark shares: run a variant in its own Python process (so that its peak
memory is its own) and read the JSON line it prints last."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Appended to a variant's code: prints rows, seconds and peak RSS (MiB) as one JSON line; the
#: peak of the variant's process, or of the server it ran if that sets ``server_rss`` (MiB).
REPORT = """
seconds = time.perf_counter() - started
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, globals().get("server_rss", 0))
print(json.dumps({"rows": rows, "seconds": seconds, "rss": rss}))
"""


def run_child(code: str, *args: str, env: dict | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def scratch_database(name: str, *, clients: int) -> dict:
    """A scratch MariaDB database on 127.0.0.1, created if missing, migrated, and seeded with
    ``clients`` demo clients (a seed does nothing where demo data exists). Returns the
    environment a child needs to use it."""
    env = {"DATABASE_URL": f"mysql://root@127.0.0.1:3306/{name}"}
    subprocess.run(
        ["mariadb", "--protocol=tcp", "-h", "127.0.0.1", "-u", "root", "-e",
         f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"],
        check=True,
    )  # fmt: skip
    full_env = {**os.environ, **env}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=full_env, check=True)
    seed = [sys.executable, "manage.py", "seed", "--clients", str(clients)]
    subprocess.run(seed, cwd=ROOT, env=full_env, check=True, capture_output=True)
    return env


def machine(detail: str) -> str:
    return f"machine: {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · {detail}"


def print_row(name: str, r: dict, width: int = 36) -> None:
    print(f"{name:<{width}}{r['rows']:>10,}{r['seconds']:>9.2f}{r['rows'] / r['seconds']:>10,.0f}{r['rss']:>10.0f}")


def print_header(width: int = 36) -> None:
    print(f"{'variant':<{width}}{'rows':>10}{'seconds':>9}{'rows/s':>10}{'peak MiB':>10}")
