#!/usr/bin/env python
"""Benchmark ``import_from`` (issue 19) at a group's size: a Fresha clients export of N clients
and a Phorest sales export of about 2.5 N sale lines (Spanish data, the exact headers of the
fixtures in ``tests/legacy/peers/files/``), imported into an empty, migrated scratch MariaDB
database: the dry run, the import, the second run (everything already imported), a run killed
half-way and carried on; beside it, the obvious alternative in the same run: the same clients
made row by row with the ORM (``Client(...).save()``, no keys, no checks, rolled back).

Each variant runs in its own process, so its peak memory is its own. Rows are the rows of the
file(s) the variant reads.

    .venv/bin/python bench/peers_bench.py                          # 100 000 clients, ~250 000 sale lines
    .venv/bin/python bench/peers_bench.py --clients 20000 --profile clients   # cProfile of the clients import
    .venv/bin/python bench/peers_bench.py --clients 20000 --only clients --keep
"""

import argparse
import csv
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from _child import REPORT, ROOT, machine, print_header, print_row
from _child import run_child as _run_child


def run_child(code: str, *args: str, env: dict | None = None) -> dict:
    """_child.run_child, showing what the variant wrote on stderr when it fails."""
    try:
        return _run_child(code, *args, env=env)
    except subprocess.CalledProcessError as exc:
        print((exc.stderr or "")[-3000:], file=sys.stderr)
        raise


FRESHA_HEADERS = ["Client ID", "First Name", "Last Name", "Full Name", "Blocked", "Block Reason", "Gender",
                  "Mobile Number", "Telephone", "Email", "Accepts Marketing", "Accepts SMS Marketing", "Address",
                  "Apartment Suite", "Area", "City", "State", "Post Code", "Date of Birth", "Added", "Note",
                  "Referral Source"]  # fmt: skip
PHOREST_HEADERS = ["transaction_id", "transaction_item_id", "branch_id", "branch_name", "client_id",
                   "client_first_name", "client_last_name", "client_email", "purchased_date", "purchase_time",
                   "item_type", "description", "quantity", "service_name", "product_name", "product_barcode",
                   "course_name", "voucher_serial", "unit_price", "original_price", "discount_amount", "tax_rate",
                   "tax_amount", "net_total_amount", "total_amount", "staff_tips", "payment_type_names",
                   "payment_type_amounts", "staff_first_name", "staff_last_name", "appointment_id",
                   "appointment_date", "void", "void_reason", "purchase_updated_at"]  # fmt: skip
NAMES = ["Lucía", "María José", "Paula", "Sofía", "Carmen", "Laura", "Ana", "Marta", "Elena", "Irene", "Javier",
         "Íñigo", "Nuria", "Begoña", "Ainhoa", "Rocío"]  # fmt: skip
SURNAMES = ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
            "Núñez", "Etxeberria", "Muñoz", "Peña", "Ruiz"]  # fmt: skip
CITIES = [("Madrid", "Madrid", "28009"), ("Sevilla", "Sevilla", "41004"), ("Valencia", "Valencia", "46001"),
          ("Donostia-San Sebastián", "Gipuzkoa", "20004"), ("Málaga", "Málaga", "29001")]  # fmt: skip
SERVICES = [("Corte y peinado", "35.00"), ("Tinte raíz", "42.50"), ("Mechas balayage", "95.00"),
            ("Manicura semipermanente", "25.00"), ("Depilación cejas con hilo", "12.50"),
            ("Tratamiento keratina", "120.00"), ("Peinado recogido", "38.00")]  # fmt: skip
PRODUCTS = [("Champú reparador 250 ml", "12.50"), ("Mascarilla nutritiva 200 ml", "14.90"),
            ("Aceite de argán 100 ml", "19.95")]  # fmt: skip


def email(i: int) -> str:
    return f"cliente{i}@correo.bench.es"


def phone(i: int) -> str:
    """Fresha's spelling (country code without +, spaced), a different number per client."""
    d = f"{(i * 7919) % 10**8:08d}"
    return f"34 6{d[:2]} {d[2:5]} {d[5:]}"


def write_clients(path: Path, count: int) -> None:
    rnd = random.Random(19)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(FRESHA_HEADERS)
        for i in range(1, count + 1):
            name, surname = rnd.choice(NAMES), f"{rnd.choice(SURNAMES)} {rnd.choice(SURNAMES)}"
            city, state, postal = rnd.choice(CITIES)
            born = (date(1950, 1, 1) + timedelta(days=rnd.randrange(25000))).isoformat()
            writer.writerow([
                str(301_000_000 + i), name, surname, f"{name} {surname}", "No", "", rnd.choice(["Female", "Male"]),
                phone(i),
                "", email(i), "Yes", rnd.choice(["Yes", "No"]), f"Calle Mayor {rnd.randint(1, 200)}", "", "Centro",
                city, state, postal, born, f"2023-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
                "Alergia al PPD: prueba de tinte 48 h antes" if rnd.random() < 0.05 else "", "Walk-In",
            ])  # fmt: skip


def write_sales(path: Path, clients: int, lines: int) -> int:
    """About ``lines`` sale lines (1 to 4 per sale), each sale of one of the clients; returns the lines."""
    rnd = random.Random(2019)
    written, sale = 0, 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(PHOREST_HEADERS)
        while written < lines:
            sale += 1
            client = rnd.randint(1, clients)
            day = date(2024, 1, 1) + timedelta(days=rnd.randrange(700))
            items = [
                rnd.choice(SERVICES) if rnd.random() < 0.8 else rnd.choice(PRODUCTS) for _ in range(rnd.randint(1, 4))
            ]
            total = sum(int(p.replace(".", "")) for _n, p in items)
            cash = rnd.randrange(total) if rnd.random() < 0.2 else 0
            names, amounts = ("Cash;Credit Card", f"{cash / 100:.2f};{(total - cash) / 100:.2f}") if cash else (
                rnd.choice(["Cash", "Credit Card"]), f"{total / 100:.2f}")  # fmt: skip
            for n, (item, price) in enumerate(items, start=1):
                product = (item, price) in PRODUCTS
                writer.writerow([
                    f"TX{sale}", f"TI-{sale}-{n}", "br-mad-01", "Salón Núñez Madrid", f"cl-{client:06d}",
                    "", "", email(client), day.isoformat(), f"{rnd.randint(9, 20):02d}:{rnd.randint(0, 59):02d}:00",
                    "PRODUCT" if product else "SERVICE", item, 1, "" if product else item, item if product else "",
                    "", "", "", price, price, "0.00", 21, "", "", price, "0.00", names, amounts, "Ana", "López",
                    "", "", 0, "", f"{day.isoformat()} 20:00:00",
                ])  # fmt: skip
                written += 1
    return written


COMMON = """
import json, os, resource, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from pathlib import Path
from legacy.peers.engine import peers_import
profile, mode, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
files = [(Path(p).name, Path(p).read_bytes()) for p in paths]
started = time.perf_counter()
if os.environ.get("BENCH_PROFILE"):
    import cProfile, pstats
    prof = cProfile.Profile()
    prof.enable()
report = peers_import(profile=profile, files=files, dry_run=mode == "dry")
if os.environ.get("BENCH_PROFILE"):
    prof.disable()
    pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
assert not report["errors"], report["errors"][:3]
assert report["reconciled"], [c for c in report.get("checks", []) if not c.get("ok")]
rows = sum(c["read"] for c in report["entities"].values())
print(json.dumps({"counts": report["entities"]}), file=sys.stderr)
if mode == "again":
    assert not any(c["created"] for c in report["entities"].values()), report["entities"]
"""

NAIVE = """
import csv, json, os, resource, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from django.db import transaction
from crm.models import Client
path = sys.argv[3]
started = time.perf_counter()
rows = 0
class Rollback(Exception):
    pass
try:
    with transaction.atomic():
        with open(path, encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                Client(name=r["First Name"], surname=r["Last Name"], email=r["Email"].lower(),
                       phone="+" + r["Mobile Number"], address=r["Address"], city=r["City"],
                       postal_code=r["Post Code"], birth_date=r["Date of Birth"] or None, notes=r["Note"] or None).save()
                rows += 1
        raise Rollback
except Rollback:
    pass
"""


def mariadb(sql: str) -> None:
    subprocess.run(["mariadb", "--protocol=tcp", "-h", "127.0.0.1", "-u", "root", "-e", sql], check=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def killed_and_resumed(profile: str, paths: list[str], env: dict, after: float) -> dict:
    """The import started, killed (SIGKILL) after ``after`` seconds, then run again: the second run's figures."""
    child = subprocess.Popen([sys.executable, "-c", COMMON + REPORT, profile, "real", *paths], cwd=ROOT,
                             env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(after)
    child.send_signal(signal.SIGKILL)
    child.wait()
    # The killed run's lock (MariaDB's GET_LOCK) went with its connection.
    return run_child(COMMON + REPORT, profile, "real", *paths, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--sale-lines", type=int, help="default: 2.5 × clients")
    parser.add_argument("--database", default="beils_peers_bench")
    parser.add_argument("--only", choices=["clients", "sales"], help="only this file")
    parser.add_argument("--kill-after", type=float, default=0, help="also a run killed after this many seconds")
    parser.add_argument("--no-dry", action="store_true", help="skip the dry runs")
    parser.add_argument("--no-naive", action="store_true", help="skip the row-by-row ORM alternative")
    parser.add_argument("--profile", choices=["clients", "sales"], help="cProfile this import (stderr), nothing else")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    args = parser.parse_args()
    lines = args.sale_lines or int(args.clients * 2.5)
    # A Phorest export of 250 000 lines is about 65 MB: above the default IMPORT_MAX_MB (50).
    env = {"DATABASE_URL": f"mysql://root@127.0.0.1:3306/{args.database}", "DEBUG": "False",
           "SECRET_KEY": secrets.token_urlsafe(64), "IMPORT_MAX_MB": "2048"}  # fmt: skip
    mariadb(f"DROP DATABASE IF EXISTS `{args.database}`; "
            f"CREATE DATABASE `{args.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")  # fmt: skip
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
    subprocess.run(migrate, cwd=ROOT, env={**os.environ, **env}, check=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            clients_csv, sales_csv = str(Path(tmp) / "clients.csv"), str(Path(tmp) / "sales.csv")
            write_clients(Path(clients_csv), args.clients)
            lines = write_sales(Path(sales_csv), args.clients, lines)
            if args.profile:
                if args.profile == "sales":
                    run_child(COMMON + REPORT, "fresha", "real", clients_csv, env=env)
                path, name = (clients_csv, "fresha") if args.profile == "clients" else (sales_csv, "phorest")
                out = subprocess.run([sys.executable, "-c", COMMON + REPORT, name, "real", path], cwd=ROOT,
                                     env={**os.environ, **env, "BENCH_PROFILE": "1"}, capture_output=True, text=True)  # fmt: skip
                print(out.stderr[-30000:])
                print(out.stdout)
                return
            size = sum(Path(p).stat().st_size for p in (clients_csv, sales_csv)) / 1024 / 1024
            print(machine(f"{args.clients:,} Fresha clients + {lines:,} Phorest sale lines ({size:.0f} MiB) in "
                          f"{args.database}, MariaDB, batches of 500"))  # fmt: skip
            print(f"load average at start: {load()}")
            width = 48
            print_header(width)
            steps = []
            if args.only != "sales":
                if not args.no_naive:
                    steps.append(("alternative: ORM save() per row, rolled back", NAIVE, "-", "-", [clients_csv]))
                if not args.no_dry:
                    steps.append(("clients: dry run (rolled back)", COMMON, "fresha", "dry", [clients_csv]))
                if args.kill_after:
                    steps.append(("clients: killed, then carried on", None, "fresha", "kill", [clients_csv]))
                else:
                    steps.append(("clients: import", COMMON, "fresha", "real", [clients_csv]))
                steps.append(("clients: second run (nothing new)", COMMON, "fresha", "again", [clients_csv]))
            if args.only != "clients":
                if not args.no_dry:
                    steps.append(("sales: dry run (rolled back)", COMMON, "phorest", "dry", [sales_csv]))
                if args.kill_after:
                    steps.append(("sales: killed, then carried on", None, "phorest", "kill", [sales_csv]))
                else:
                    steps.append(("sales: import", COMMON, "phorest", "real", [sales_csv]))
                steps.append(("sales: second run (nothing new)", COMMON, "phorest", "again", [sales_csv]))
            for name, code, profile, mode, paths in steps:
                if mode == "kill":
                    result = killed_and_resumed(profile, paths, env, args.kill_after)
                else:
                    result = run_child(code + REPORT, profile, mode, *paths, env=env)
                print_row(name, result, width)
                sys.stdout.flush()
            print(f"load average at end: {load()}")
    finally:
        if not args.keep:
            mariadb(f"DROP DATABASE IF EXISTS `{args.database}`")


if __name__ == "__main__":
    main()
