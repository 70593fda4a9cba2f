"""A MariaDB restore loads its tables on several connections at once (BACKUP_RESTORE_WORKERS):
every table, row and trigger comes back; a table that fails to load fails the whole restore and
leaves the live data as it was; the file stays one plain dump (``gunzip | mariadb``: test_backup).

Real MariaDB and the real ``mariadb`` client; the splitting itself is also checked with ``cat``
as the client, which shows what each connection was sent."""

import gzip
import os
import re
import subprocess

import pytest
from django.core.management import call_command
from django.db import connection

from backups import engines
from backups.pipeline import ParallelLoad, Pipeline, PipelineError, compressor, dump_sections
from backups.services import backup_create, backup_path
from crm.models import Client, Consent
from demo.services import demo_data_seed
from tests.backups.test_backup import table_fingerprint
from tests.backups.test_restore_failures import scratch_databases

mariadb_only = pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB")

HEAD = b"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n\n--\n"
DUMP = (
    HEAD
    + b"".join(
        b"-- Table structure for table `t%d`\n--\n\nCREATE TABLE `t%d` (id INT);\n\n--\n"
        b"-- Dumping data for table `t%d`\n--\n\nLOCK TABLES `t%d` WRITE;\nINSERT INTO `t%d` VALUES\n(1),\n(2);\n"
        b"UNLOCK TABLES;\n\n--\n" % (n, n, n, n, n)
        for n in range(7)
    )
    + (
        b"-- Dumping routines for database 'beils'\n--\n/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n\n"
        b"-- Dump completed\n"
    )
)


@pytest.fixture
def salon(transactional_db):
    demo_data_seed(clients=30, random_seed=11)


@pytest.mark.parametrize("size", [1, 5, 64, len(DUMP)])
def test_the_dump_is_cut_where_its_sections_start_however_the_stream_is_cut(size):
    pieces = list(dump_sections(DUMP[i : i + size] for i in range(0, len(DUMP), size)))

    assert b"".join(piece for _, piece in pieces) == DUMP
    starts = [piece for kind, piece in pieces if kind in ("table", "later")]
    assert [s[: len(b"-- Table structure for table `t0`")] for s in starts[:7]] == [
        b"-- Table structure for table `t%d`" % n for n in range(7)
    ]
    assert starts[7].startswith(b"-- Dumping routines") and len(starts) == 8
    assert b"".join(piece for kind, piece in pieces if kind == "head") == HEAD


def test_each_connection_gets_the_session_settings_then_whole_tables_and_the_rest_comes_last(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # Each "connection" writes what it was sent to a file of its own, numbered in start order.
    client = ["sh", "-c", f'exec cat > "$(mktemp -p {out} XXXXXX)"']
    spool = tmp_path / "spool"
    spool.mkdir()

    ParallelLoad(client, 3, spool).run(DUMP[i : i + 100] for i in range(0, len(DUMP), 100))

    sent = [path.read_bytes() for path in out.iterdir()]
    assert len(sent) == 4  # three connections, then one for the routines and the rest
    assert all(text.startswith(HEAD) for text in sent)
    tables = [name for text in sent for name in re.findall(rb"CREATE TABLE `(t\d)`", text)]
    assert sorted(tables) == [b"t%d" % n for n in range(7)]
    # Locked, a table's rows would wait for the tables other connections give foreign keys to it.
    assert not any(b"LOCK TABLES" in text for text in sent)
    assert sum(text.count(b"\n(2);\n") for text in sent) == 7
    last = next(text for text in sent if b"-- Dumping routines" in text)
    assert b"CREATE TABLE" not in last and last.endswith(b"-- Dump completed\n")
    assert not list(spool.iterdir())  # each table's spool file goes once it is loaded


def test_a_connection_that_fails_fails_the_load(tmp_path):
    # The second connection to start exits with an error as soon as it is sent anything.
    client = [
        "sh",
        "-c",
        f"if mkdir {tmp_path}/first 2>/dev/null; then exec cat > /dev/null; else echo broken >&2; exit 3; fi",
    ]

    with pytest.raises(PipelineError, match="broken"):
        ParallelLoad(client, 2, tmp_path).run([DUMP])


@mariadb_only
@pytest.mark.parametrize("workers", [1, 3])
def test_a_restore_brings_back_every_table_row_and_trigger(salon, settings, workers):
    settings.BACKUP_RESTORE_WORKERS = workers
    live = connection.settings_dict["NAME"]
    backup = backup_create()
    fingerprint = table_fingerprint(live)
    triggers = engines.MariaDBEngine().trigger_statements(live)
    Consent.objects.all().delete()
    Client.all_objects.update(notes="changed after the backup")

    call_command("restore", str(backup.pk), "--noinput", "--no-safety-backup")

    restored = table_fingerprint(live)
    # The catalogue and the audit trail move on after a restore (the entries since are put back).
    for table in [table for table in backup.tables if not table.startswith("maintenance_")]:
        assert restored[table] == fingerprint[table], table
        assert restored[table][0] == backup.tables[table]["rows"], table
    assert engines.MariaDBEngine().trigger_statements(live) == triggers
    assert scratch_databases() == []


@mariadb_only
def test_a_table_that_fails_to_load_fails_the_restore_and_leaves_the_live_data(salon, settings):
    settings.BACKUP_RESTORE_WORKERS = 3
    live = connection.settings_dict["NAME"]
    backup = backup_create()
    Consent.objects.all().delete()
    before = table_fingerprint(live)
    dump = gzip.decompress(backup_path(backup).read_bytes())
    # A statement the server refuses, in the middle of one table's rows.
    broken = dump.replace(
        b"-- Dumping data for table `sales_invoice`\n", b"INSERT INTO `sales_invoice` VALUES (1);\n", 1
    )
    assert broken != dump
    swapped = []

    with pytest.raises(PipelineError, match="Column count"):
        engines.MariaDBEngine().restore(lambda: [broken], backup.tables, [], before_swap=lambda: swapped.append(1))

    assert not swapped
    assert table_fingerprint(live) == before
    assert scratch_databases() == []


@mariadb_only
def test_the_default_level_is_within_five_percent_of_gzip_6(salon, settings):
    dump = gzip.decompress(backup_path(backup_create()).read_bytes())
    ours = subprocess.run(compressor(settings.BACKUP_COMPRESSION_LEVEL), input=dump, capture_output=True, check=True)
    reference = subprocess.run(["gzip", "-6", "-c"], input=dump, capture_output=True, check=True)
    assert len(ours.stdout) <= 1.05 * len(reference.stdout)
    assert gzip.decompress(ours.stdout) == dump


def test_the_compressor_yields_the_cpu_to_the_database():
    """Linux's idle scheduling class: a waking database thread takes the core at once."""
    pipeline, seen, out = Pipeline([compressor(5)]), [], []

    def source():
        seen.append(os.sched_getscheduler(pipeline.processes[0].pid))
        yield b"salon " * 1000

    pipeline.run(source(), out.append)

    assert seen == [os.SCHED_IDLE]
    assert gzip.decompress(b"".join(out)) == b"salon " * 1000
