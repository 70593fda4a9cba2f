#!/usr/bin/env python
"""Benchmark validated CSV imports of clients: Beils' batched import against django-import-export's
default (row by row) and bulk paths and MariaDB's ``LOAD DATA``, in one run.

A CSV of N synthetic clients with every column of ``ClientResource`` (what the admin export
writes) is imported into an empty ``crm_client`` table of a scratch database. Each variant runs
in its own process (so peak memory is its own) and starts from an empty table.

    .venv/bin/python bench/import_bench.py                          # 100 000 clients
    .venv/bin/python bench/import_bench.py --rows 20000 --library-rows 5000
    .venv/bin/python bench/import_bench.py --database bench_h3      # or BENCH_DATABASE=bench_h3
    .venv/bin/python bench/import_bench.py --rows 1000000 --skip django --skip memory  # a million
"""

import argparse
import csv
import json
import multiprocessing
import os
import random
import secrets
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from _child import REPORT, ROOT, machine, print_header, print_row, run_child

COMMON = """
import csv, json, os, resource, sys, time, django
from itertools import islice
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
import tablib
from django.db import connection
from beils.lib.formats import CSV
from crm.models import Client
path, limit = sys.argv[1], int(sys.argv[2])

def _dataset(limit):
    # The first rows of the file as a tablib dataset, for the variants that load a whole file.
    with open(path, encoding="utf-8", newline="") as fh:
        records = csv.reader(fh)
        dataset = tablib.Dataset(headers=next(records))
        for record in islice(records, limit):
            dataset.append(record)
    return dataset

def _streamed():
    # What a background job does: the file read one batch at a time, a result without every row.
    from transfer.resources.crm import ClientResource
    fh = open(path, "rb")
    return fh, CSV().open_rows(fh), ClientResource(actor="bench", invalid_rows_are_errors=False, keep_rows=False)

rows = limit
with connection.cursor() as cursor:
    # A new empty table: DELETE would leave the server purging the last variant's rows while
    # this one is measured.
    cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
    cursor.execute("TRUNCATE TABLE crm_client")
    cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
started = time.perf_counter()
"""

VARIANTS = {
    "Beils import, dry run": (
        "all",
        """
fh, source, importer = _streamed()
result = importer.import_data(source, dry_run=True)
assert not result.has_errors() and not result.has_validation_errors(), result.base_errors
assert result.totals["new"] == rows
""",
    ),
    "Beils import": (
        "all",
        """
fh, source, importer = _streamed()
result = importer.import_data(source)
assert not result.has_errors() and not result.has_validation_errors(), result.base_errors
assert Client.all_objects.count() == rows
""",
    ),
    "Beils re-import, unchanged": (
        "all",
        """
fh, source, importer = _streamed()
importer.import_data(source)
started = time.perf_counter()
fh, source, importer = _streamed()
result = importer.import_data(source)
assert result.totals["skip"] == rows, result.totals
""",
    ),
    "Beils import, whole file in memory": (
        "memory",
        """
from transfer.resources.crm import ClientResource
dataset = _dataset(limit)
started = time.perf_counter()  # the file read and parsed before, as this bench measured it before issue 17
result = ClientResource(actor="bench").import_data(dataset)
assert not result.has_errors() and not result.has_validation_errors(), result.base_errors
""",
    ),
    "django-import-export default": (
        "library",
        """
data = _plain_dataset(_dataset(limit))
started = time.perf_counter()
result = _plain(bulk=False, validate=False).import_data(data, use_transactions=True)
assert not result.has_errors() and not result.has_validation_errors()
""",
    ),
    "django-import-export + full_clean": (
        "library",
        """
data = _plain_dataset(_dataset(limit))
started = time.perf_counter()
result = _plain(bulk=False, validate=True).import_data(data, use_transactions=True)
assert not result.has_errors() and not result.has_validation_errors()
""",
    ),
    "django-import-export bulk + full_clean": (
        "library",
        """
data = _plain_dataset(_dataset(limit))
started = time.perf_counter()
result = _plain(bulk=True, validate=True).import_data(data, use_transactions=True)
assert not result.has_errors() and not result.has_validation_errors()
""",
    ),
    "MariaDB LOAD DATA (no validation)": (
        "all",
        """
import MySQLdb
params = {**connection.get_connection_params(), "local_infile": 1}
db = MySQLdb.connect(**params)
cursor = db.cursor()
cursor.execute("SET SESSION time_zone = '+00:00'")
cursor.execute(
    "LOAD DATA LOCAL INFILE %s INTO TABLE crm_client CHARACTER SET utf8mb4 "
    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\\"' LINES TERMINATED BY '\\\\r\\\\n' IGNORE 1 LINES "
    "(@id, email, name, surname, phone, address, postal_code, city, country, gender, @birth, document_type, "
    " document_number, notes, status, @legacy, @created, @deactivated) "
    "SET birth_date = NULLIF(@birth, ''), created_at = STR_TO_DATE(@created, '%%Y-%%m-%%d %%H:%%i:%%s'), "
    "updated_at = UTC_TIMESTAMP(), is_demo = 0",
    [path],
)
db.commit()
rows = cursor.rowcount
""",
    ),
}

PLAIN = """
def _plain(bulk, validate):
    # The library's own resource, as its documentation writes one (validate: full_clean per row).
    from import_export.resources import ModelResource
    class Plain(ModelResource):
        class Meta:
            model = Client
            exclude = ("id", "updated_at", "is_demo", "deactivated_at")
            import_id_fields = ["email"]
            clean_model_instances = validate
            use_bulk = bulk
            batch_size = 1000
    return Plain()

def _plain_dataset(data):
    # The library's own column names are the model's field names.
    out = tablib.Dataset(headers=["email", "name", "surname", "phone", "address", "postal_code", "city", "country",
                                  "gender", "birth_date", "document_type", "document_number", "notes", "status",
                                  "created_at"])
    index = {h: i for i, h in enumerate(data.headers)}
    cols = ["Email", "Name", "Surname", "Phone", "Address", "Postal code", "City", "Country", "Gender",
            "Birth date", "Document type", "Document number", "Notes", "Status", "Created at"]
    for row in data:
        out.append([row[index[c]] or None for c in cols])
    return out
"""

NAMES = ["Lucía", "María", "Paula", "Sofía", "Carmen", "Laura", "Ana", "Marta", "Elena", "Irene", "Javier", "Hugo"]
SURNAMES = ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez"]
CITIES = [("Madrid", "28001"), ("Sevilla", "41001"), ("Valencia", "46001"), ("Bilbao", "48001"), ("Málaga", "29001")]
HEADERS = ["ID", "Email", "Name", "Surname", "Phone", "Address", "Postal code", "City", "Country", "Gender",
           "Birth date", "Document type", "Document number", "Notes", "Status", "Legacy ID", "Created at",
           "Deactivated at"]  # fmt: skip


def write_csv(path: Path, count: int) -> None:
    rnd = random.Random(20261124)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS)
        for i in range(1, count + 1):
            city, postal = rnd.choice(CITIES)
            name, surname = rnd.choice(NAMES), f"{rnd.choice(SURNAMES)} {rnd.choice(SURNAMES)}"
            has_document = rnd.random() < 0.7
            writer.writerow([
                "", f"client{i}@bench.salon.es", name, surname, f"+34 6{rnd.randrange(10**8):08d}",
                f"Calle Mayor {rnd.randint(1, 200)}", postal, city, "ES", rnd.choice("FFFMX"),
                (date(1950, 1, 1) + timedelta(days=rnd.randrange(25000))).isoformat(),
                "DNI" if has_document else "", f"{i:08d}{'TRWAGMYFPDXBNJZSQVHLCKE'[i % 23]}" if has_document else "",
                "Piel sensible" if rnd.random() < 0.1 else "", "ON", "",
                f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} 10:{rnd.randint(0, 59):02d}:00", "",
            ])  # fmt: skip


def write_json_and_xlsx(path: Path) -> None:
    """The same clients as a JSON array of objects and as an XLSX sheet that declares its size,
    as Excel and LibreOffice save it (openpyxl's write-only mode does not)."""
    from openpyxl import Workbook

    with path.open(encoding="utf-8", newline="") as src, Path(f"{path}.json").open("w", encoding="utf-8") as out:
        records = csv.reader(src)
        headers = next(records)
        out.write("[")
        for i, record in enumerate(records):
            out.write(("," if i else "") + json.dumps(dict(zip(headers, record, strict=True)), ensure_ascii=False))
        out.write("]")
    book = Workbook()
    with path.open(encoding="utf-8", newline="") as src:
        for record in csv.reader(src):
            book.active.append(record)
    book.save(f"{path}.xlsx")


# The same clients as JSON and XLSX (written by write_json_and_xlsx), read as a job reads them.
for _format in ("JSON", "XLSX"):
    VARIANTS[f"Beils import, {_format} file"] = (
        "all",
        f"""
from beils.lib.formats import {_format}
from transfer.resources.crm import ClientResource
fh = open(path + ".{_format.lower()}", "rb")
started = time.perf_counter()
importer = ClientResource(actor="bench", invalid_rows_are_errors=False, keep_rows=False)
result = importer.import_data({_format}().open_rows(fh))
assert not result.has_errors() and not result.has_validation_errors(), result.base_errors
assert Client.all_objects.count() == rows
""",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "beils_bench_import"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--library-rows", type=int, default=10_000, help="rows for the library's slow paths")
    parser.add_argument(
        "--memory-rows", type=int, default=100_000, help="at most this many rows for the whole-file-in-memory path"
    )
    parser.add_argument("--only", action="append", help="run only the variants whose name contains this (repeatable)")
    parser.add_argument("--skip", action="append", help="skip the variants whose name contains this (repeatable)")
    args = parser.parse_args()
    env = {
        "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{args.database}",
        # A million clients is about 170 MB of CSV: above the default IMPORT_MAX_MB (50).
        "IMPORT_MAX_MB": "2048",
        # As a worker runs in production: with DEBUG on, Django keeps the last 9 000 statements
        # (each batch's INSERT is 170 kB of SQL), which is memory the import itself does not use.
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(64),
    }
    subprocess.run(
        ["mariadb", "--protocol=tcp", "-h", "127.0.0.1", "-u", "root", "-e",
         f"CREATE DATABASE IF NOT EXISTS {args.database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
         "SET GLOBAL local_infile = 1"],
        check=True,
    )  # fmt: skip
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
    subprocess.run(migrate, cwd=ROOT, env={**os.environ, **env}, check=True)
    limits = {"all": args.rows, "library": args.library_rows, "memory": min(args.rows, args.memory_rows)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clients.csv"
        write_csv(path, args.rows)  # row by row: a million rows never sit in memory
        if not args.only or any(word.lower() in ("json", "xlsx") for word in args.only):
            # In a process of its own: Linux carries a process's peak memory over to the
            # children it starts, and openpyxl holds the whole sheet while it writes it.
            writer = multiprocessing.get_context("spawn").Process(target=write_json_and_xlsx, args=(path,))
            writer.start()
            writer.join()
        size = path.stat().st_size / 1024 / 1024
        print(machine(f"{args.rows:,} clients ({size:.0f} MiB of CSV) in {args.database}"))
        print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print_header()
        for name, (kind, code) in VARIANTS.items():
            if args.only and not any(word.lower() in name.lower() for word in args.only):
                continue
            if args.skip and any(word.lower() in name.lower() for word in args.skip):
                continue
            print_row(name, run_child(COMMON + PLAIN + code + REPORT, str(path), str(limits[kind]), env=env))
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
