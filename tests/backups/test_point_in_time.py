"""Point-in-time recovery: with BACKUP_BINLOG_POSITION, a backup records where the binary log
stood at its snapshot, in the catalogue and the manifest, so mariadb-binlog can replay from there."""

import pytest
from django.db import connection

from backups.engines import MariaDBEngine
from backups.pipeline import DumpInspector
from backups.services import backup_create, backup_path, read_manifest


def test_the_dump_inspector_reads_the_binary_log_position_of_the_snapshot():
    inspector = DumpInspector()
    inspector.feed(
        b"-- MariaDB dump 10.19\n--\n-- Position to start replication or point-in-time recovery from\n--\n\n"
        b"-- CHANGE MASTER TO MASTER_LOG_FILE='mariadb-bin.000042', MASTER_LOG_POS=1337;\n"
        b"-- SET GLOBAL gtid_slave_pos='0-1-99';\n\n-- Dump completed on 2026-11-24\n"
    )
    stats = inspector.close()
    assert stats.binlog == {"file": "mariadb-bin.000042", "position": 1337, "gtid": "0-1-99"}
    assert stats.trailer


def test_a_dump_without_a_position_records_none():
    inspector = DumpInspector()
    inspector.feed(b"-- MariaDB dump\n-- Dump completed on 2026-11-24\n")
    assert inspector.close().binlog is None


@pytest.mark.mariadb
@pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB")
def test_the_position_is_asked_for_only_when_enabled_and_the_binary_log_is_on(transactional_db, settings):
    engine = MariaDBEngine()
    log_bin = int(engine.execute("SELECT @@log_bin")[0][0])
    settings.BACKUP_BINLOG_POSITION = False
    assert engine.binlog_options() == []
    settings.BACKUP_BINLOG_POSITION = True
    assert engine.binlog_options() == (["--master-data=2", "--gtid"] if log_bin else [])

    backup = backup_create()  # works either way

    manifest = read_manifest(backup_path(backup))
    assert "binlog" in manifest
    if log_bin:
        assert manifest["binlog"]["file"] and manifest["binlog"]["position"] > 0
    else:
        assert manifest["binlog"] is None and backup.binlog is None


def test_the_runbook_replays_from_the_manifest_fields_the_backup_writes():
    """The point-in-time block (run for real in test_point_in_time_live.py) reads the manifest
    keys DumpInspector fills, stops at a time, and keeps to one database."""
    from tests.backups.test_runbook import runbook_block

    block = runbook_block("pitr-mariadb")
    assert "jq -r .binlog.file" in block and "jq -r .binlog.position" in block
    assert '--start-position="$POS"' in block and '--stop-datetime="$STOP"' in block
    assert '--database="$DB"' in block
    assert "manage.py restore" not in block  # its own writes collide with the replayed rows
