"""Start-up time of ``manage.py`` commands (issue 17): the median wall and CPU time of each
command over ``--runs`` runs, the checkouts given with ``--root`` measured in turn, run by run,
so that they share the machine's load. The import floor (``import django`` alone) is measured
beside them.

    .venv/bin/python bench/startup_bench.py                        # this checkout
    .venv/bin/python bench/startup_bench.py --root ../main --root .  # before and after, paired

Each run is a fresh process, as an operator's command is; ``PYTHONDONTWRITEBYTECODE`` and
``PYTHONPYCACHEPREFIX`` are passed through, so run it once with each to see the cost of
compiling the project's modules.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "import django": ["-c", "import django"],
    "manage.py help": ["manage.py", "help"],
    "manage.py listbackups": ["manage.py", "listbackups"],  # an operator command
    "manage.py check": ["manage.py", "check"],
}


def run_once(root: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", action="append", type=Path, help="a checkout to measure (default: this one)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", action="append", choices=COMMANDS, help="measure only this command")
    options = parser.parse_args()
    roots = options.root or [Path(__file__).resolve().parent.parent]
    commands = {name: args for name, args in COMMANDS.items() if not options.only or name in options.only}
    times = {(root, name): [] for root in roots for name in commands}
    for _ in range(options.runs):
        for name, args in commands.items():
            for root in roots:
                times[(root, name)].append(run_once(root, args))
    print(f"load average {os.getloadavg()[0]:.2f} at the end; {options.runs} runs each; medians")
    print("| command | checkout | wall s | CPU s |\n|---|---|---:|---:|")
    for (root, name), runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| {name} | {root} | {wall:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
