"""The stale-work check against real killed processes: ``manage.py backup`` and an export job
run in subprocesses, killed with SIGKILL mid-work, then ``manage.py reapstale``."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection

from audit.models import AuditEntry, Outcome
from backups.models import Backup, BackupStatus
from backups.services import partial_path
from crm.models import Client
from demo.services import demo_data_seed
from maintenance.schedules import JOBS
from transfer.jobs import job_progress_written_at
from transfer.models import Job, JobKind, JobState

mariadb_only = pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB")


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "mysql":
        return f"mysql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 3306}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}"


def _environment(**extra) -> dict:
    return {
        **os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "beils.settings",
        "VAR_DIR": str(settings.VAR_DIR), "BACKUP_DIR": str(settings.BACKUP_DIR),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT), **extra,
    }  # fmt: skip


def _start(args: list[str], log: Path, **env) -> subprocess.Popen:
    with open(log, "wb") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=_environment(**env),
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _sigkill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_until(condition, what: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the process ended before {what}: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.05)


@pytest.fixture
def slow_dump(tmp_path):
    """A ``mariadb-dump`` that touches a marker and waits 60 s before dumping for real."""
    bin_dir, marker = tmp_path / "bin", tmp_path / "dump-started"
    bin_dir.mkdir()
    script = bin_dir / "mariadb-dump"
    script.write_text(
        f'#!/bin/sh\ntouch {marker}\ni=0\nwhile [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n'
        'exec /usr/bin/mariadb-dump "$@"\n'
    )  # fmt: skip
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}, marker


@pytest.fixture
def credentials_dir():
    directory = Path(settings.VAR_DIR) / "credentials"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@mariadb_only
def test_a_sigkilled_backup_is_marked_failed_its_files_removed_and_the_admins_mailed_once(
    transactional_db, admin_user, slow_dump, credentials_dir, tmp_path, settings
):
    demo_data_seed(clients=10, random_seed=1)
    env, marker = slow_dump
    log = tmp_path / "backup.log"
    process = _start(["backup"], log, **env)
    try:
        _wait_until(marker.exists, "the dump start", process, log)
    finally:
        _sigkill(process)
    backup = Backup.objects.get(status=BackupStatus.RUNNING)
    assert partial_path(backup.file_name).exists()
    dead, alive = credentials_dir / f"{process.pid}-k3y.cnf", credentials_dir / f"{os.getpid()}-l1ve.cnf"
    dead.write_text("[client]\n"), alive.write_text("[client]\n")

    settings.STALE_WORK_MINUTES = 0
    call_command("reapstale")

    backup.refresh_from_db()
    assert backup.status == BackupStatus.FAILED and "no sign of life" in backup.error
    assert backup.finished_at is not None
    assert not partial_path(backup.file_name).exists()
    assert not dead.exists() and alive.exists()
    assert len(mail.outbox) == 1 and admin_user.email in mail.outbox[0].to
    assert backup.file_name in mail.outbox[0].subject
    assert AuditEntry.objects.filter(action="maintenance.backup.reaped", outcome=Outcome.FAILURE).count() == 1

    call_command("reapstale")
    assert len(mail.outbox) == 1
    assert AuditEntry.objects.filter(action="maintenance.backup.reaped").count() == 1


@pytest.fixture
def export_job(transactional_db):
    """An export of enough clients to take several seconds, written 2000 rows (one progress write and beat) at a time."""
    Client.all_objects.bulk_create(
        Client(name=f"Client {n}", surname="Export", email=f"export{n}@salon.example") for n in range(30000)
    )
    return Job.objects.create(
        kind=JobKind.EXPORT,
        resource="transfer.resources.crm.ClientResource",
        file_format="csv",
        model_label="crm.Client",
    )


def _run_job(job: Job, log: Path) -> subprocess.Popen:
    # Each progress write (every 2000 rows) pauses 0.3 s: the export is fast enough to finish
    # between two looks otherwise, and the tests need it still running when the reaper comes.
    code = (
        "import time; from transfer import jobs; from transfer.models import Job; "
        "write = jobs._write_progress; "
        "jobs._write_progress = lambda *a: (time.sleep(0.3), write(*a)); "
        f"jobs.job_run(Job.objects.get(pk={job.pk}))"
    )
    return _start(["shell", "-c", code], log, WORK_HEARTBEAT_SECONDS="0.2")


def _beating(job: Job):
    def check():
        job.refresh_from_db()
        return job.state == JobState.RUNNING and job.heartbeat_at and job.heartbeat_at > job.started_at

    return check


def test_a_sigkilled_export_job_is_marked_failed_and_the_admins_mailed_once(export_job, admin_user, tmp_path, settings):
    log = tmp_path / "job.log"
    process = _run_job(export_job, log)
    try:
        _wait_until(_beating(export_job), "a heartbeat", process, log)
    finally:
        _sigkill(process)
    assert Job.objects.get(pk=export_job.pk).state == JobState.RUNNING
    assert job_progress_written_at(export_job) is not None, "the worker's progress reaches this process"

    settings.STALE_WORK_MINUTES = 0
    call_command("reapstale")

    export_job.refresh_from_db()
    assert export_job.state == JobState.FAILED and "no sign of life" in export_job.error
    assert job_progress_written_at(export_job) is None
    assert len(mail.outbox) == 1 and admin_user.email in mail.outbox[0].to
    assert AuditEntry.objects.filter(action="maintenance.export.reaped", outcome=Outcome.FAILURE).count() == 1
    call_command("reapstale")
    assert len(mail.outbox) == 1


def test_a_live_heart_beating_job_is_not_reaped(export_job, admin_user, tmp_path, settings):
    log = tmp_path / "job.log"
    process = _run_job(export_job, log)
    try:
        _wait_until(_beating(export_job), "a heartbeat", process, log)
        settings.STALE_WORK_MINUTES = 0.03  # 1.8 s: longer than the job is ever silent, shorter than it has run
        time.sleep(2.5)
        assert process.poll() is None, "the export must still be running for this test to mean anything"
        call_command("reapstale")
        export_job.refresh_from_db()
        assert (
            export_job.state == JobState.RUNNING
            and (export_job.heartbeat_at - export_job.started_at).total_seconds() > 1.8
        )
        assert mail.outbox == []
    finally:
        _sigkill(process)


def test_the_stale_work_check_is_scheduled_every_few_minutes():
    (job,) = [job for job in JOBS if job.task == "maintenance.reap_stale_work"]
    assert job.minute == "*/5" and job.enabled


def test_operations_archive_runs_and_drills_left_running_are_marked_failed_once(transactional_db, admin_user, settings):
    from datetime import timedelta

    from django.utils import timezone

    from backups.models import RestoreDrill
    from maintenance.models import LifecycleKind, LifecycleRun, Operation, OperationKind, OperationState

    long_ago = timezone.now() - timedelta(hours=1)
    operation = Operation.objects.create(kind=OperationKind.BACKUP, state=OperationState.RUNNING, heartbeat_at=long_ago)
    archive = LifecycleRun.objects.create(kind=LifecycleKind.ARCHIVE, started_at=long_ago, heartbeat_at=long_ago)
    drill = RestoreDrill.objects.create(backup_file="x.sql.gz", engine="mariadb", rto_hours=1, started_at=long_ago)
    fresh = LifecycleRun.objects.create(kind=LifecycleKind.CLEANUP, heartbeat_at=timezone.now())

    call_command("reapstale")

    for row in (operation, archive, drill, fresh):
        row.refresh_from_db()
    assert operation.state == OperationState.FAILED and "no sign of life" in operation.message
    assert archive.outcome == drill.outcome == Outcome.FAILURE and "no sign of life" in archive.error
    assert fresh.outcome is None and fresh.finished_at is None
    assert len(mail.outbox) == 3
    call_command("reapstale")
    assert len(mail.outbox) == 3


def test_a_running_archive_or_cleanup_beats_from_a_thread_of_its_own(transactional_db, settings):
    from maintenance.lifecycle import lifecycle_run
    from maintenance.models import LifecycleKind, LifecycleRun

    settings.WORK_HEARTBEAT_SECONDS = 0.1
    with lifecycle_run(LifecycleKind.CLEANUP, dry_run=True) as run:
        time.sleep(0.5)  # work that never calls back: the beat goes on regardless
        beat = LifecycleRun.objects.get(pk=run.pk).heartbeat_at
    assert beat is not None and beat > run.started_at


def test_a_legacy_import_left_running_is_marked_failed_and_resumable(transactional_db, admin_user, settings):
    from datetime import timedelta

    from django.utils import timezone

    from legacy.models import LegacyImportRun, RunState

    run = LegacyImportRun.objects.create(source="mysql://legacy@db/salon", state=RunState.RUNNING)
    LegacyImportRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    live = LegacyImportRun.objects.create(source="mysql://legacy@db/other", state=RunState.RUNNING)

    call_command("reapstale")

    run.refresh_from_db(), live.refresh_from_db()
    assert run.state == RunState.FAILED and "no sign of life" in run.error
    assert live.state == RunState.RUNNING
    assert run in LegacyImportRun.objects.resumable(source=run.source)  # the next import picks it up
    assert len(mail.outbox) == 1
    assert AuditEntry.objects.filter(action="legacy.import.reaped", outcome=Outcome.FAILURE).count() == 1


def test_a_backup_killed_while_its_set_was_written_leaves_none_of_the_sets_files(transactional_db, settings, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_DIR.mkdir()
    long_ago = timezone.now() - timedelta(hours=1)
    backup = Backup.objects.create(file_name="beils_x_20261203_020000.sql.gz", engine="mariadb", database="x",
                                   status=BackupStatus.RUNNING, started_at=long_ago, heartbeat_at=long_ago)  # fmt: skip
    name = backup.file_name
    left = [partial_path(name), settings.BACKUP_DIR / f".{name}.media.tar.gz.partial",
            settings.BACKUP_DIR / f".{name}.ledger.jsonl.k3y.partial", settings.BACKUP_DIR / f"{name}.media.tar.gz",
            settings.BACKUP_DIR / f"{name}.ledger.jsonl"]  # fmt: skip
    for path in left:
        path.write_bytes(b"half")
    other = settings.BACKUP_DIR / "beils_x_20261202_020000.sql.gz.media.tar.gz"
    other.write_bytes(b"another backup's")

    call_command("reapstale")

    assert [path.name for path in left if path.exists()] == []
    assert other.exists()
