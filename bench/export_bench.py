#!/usr/bin/env python
"""Benchmark CSV exports of clients: Beils' streaming export against django-import-export's
default export, Django's ``.iterator()`` and a raw unbuffered cursor, in one run.

Each variant runs in its own process (so peak memory is its own) against a seeded database
(bench/seed_bench.py leaves 100 000 clients in beils_bench) and writes to /dev/null.

    .venv/bin/python bench/export_bench.py [--database beils_bench]
"""

import argparse

from _child import REPORT, machine, print_header, print_row, run_child

COMMON = """
import csv, io, json, os, resource, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
django.setup()
from crm.models import Client
FIELDS = ["id", "name", "surname", "email", "phone", "address", "city", "postal_code", "country", "gender",
          "birth_date", "document_type", "document_number", "notes", "status", "created_at", "updated_at"]
queryset = Client.all_objects.order_by("pk")
sink = open(os.devnull, "wb")
started = time.perf_counter()
"""

VARIANTS = {
    "beils export_stream (CSV)": """
from transfer.exports import export_stream
response = export_stream(queryset, fmt="csv", columns={f: f for f in FIELDS})
rows = 0
for chunk in response.streaming_content:
    sink.write(chunk)
rows = queryset.count()
""",
    "GET /api/clients/export (gunicorn)": """
# End to end: a token, gunicorn with DEBUG off as deployed, curl reading the whole download.
import signal, subprocess
from audit.models import AuditEntry
from crm.models import ApiToken, Role, User
user = User.objects.filter(role=Role.ADMIN, is_active=True).first()
token = ApiToken.objects.create(user=user)[1]
server_env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "bench-" + "x" * 60, "ALLOWED_HOSTS": "127.0.0.1",
              "GUNICORN_BIND": "127.0.0.1:8765", "GUNICORN_WORKERS": "1", "GUNICORN_LOG_LEVEL": "warning"}
server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], env=server_env,
                          stdout=subprocess.DEVNULL)
curl = ["curl", "-sf", "-o", os.devnull, "-H", f"Authorization: Bearer {token}", "-H", "X-Forwarded-Proto: https"]
for _ in range(300):  # until it answers
    if subprocess.run([*curl, "http://127.0.0.1:8765/health/live"]).returncode == 0:
        break
    time.sleep(0.1)
started = time.perf_counter()
subprocess.run([*curl, "http://127.0.0.1:8765/api/clients/export?format=csv"], check=True)
seconds = time.perf_counter() - started
rows = AuditEntry.objects.filter(action="maintenance.export.done").latest("pk").detail["rows"]
workers = open(f"/proc/{server.pid}/task/{server.pid}/children").read().split()
server_rss = max(int(line.split()[1]) for w in workers for line in open(f"/proc/{w}/status") if line.startswith("VmHWM")) / 1024
server.send_signal(signal.SIGTERM); server.wait()
started = time.perf_counter() - seconds
""",
    "django-import-export default": """
from import_export.resources import ModelResource
class ClientResource(ModelResource):
    class Meta:
        model = Client
        fields = FIELDS
client_resource = ClientResource()
dataset = client_resource.export(queryset=queryset)
sink.write(dataset.csv.encode())
rows = len(dataset)
""",
    "Django .iterator() + csv": """
buffer = io.StringIO()
writer = csv.writer(buffer)
rows = 0
for row in queryset.values_list(*FIELDS).iterator(chunk_size=2000):
    writer.writerow(row)
    rows += 1
    if buffer.tell() > 65536:
        sink.write(buffer.getvalue().encode()); buffer.seek(0); buffer.truncate()
sink.write(buffer.getvalue().encode())
""",
    "raw unbuffered cursor + csv": """
import MySQLdb, MySQLdb.cursors
from django.db import connection
params = connection.get_connection_params()
db = MySQLdb.connect(**params)
cursor = db.cursor(MySQLdb.cursors.SSCursor)
cursor.execute("SELECT " + ", ".join(f"`{f}`" for f in FIELDS) + " FROM crm_client ORDER BY id")
buffer = io.StringIO()
writer = csv.writer(buffer)
rows = 0
while batch := cursor.fetchmany(2000):
    writer.writerows(batch)
    rows += len(batch)
    if buffer.tell() > 65536:
        sink.write(buffer.getvalue().encode()); buffer.seek(0); buffer.truncate()
sink.write(buffer.getvalue().encode())
""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="beils_bench")
    args = parser.parse_args()
    env = {"DATABASE_URL": f"mysql://root@127.0.0.1:3306/{args.database}"}
    print(machine(f"database {args.database}"))
    print_header(32)
    for name, code in VARIANTS.items():
        print_row(name, run_child(COMMON + code + REPORT, env=env), 32)


if __name__ == "__main__":
    main()
