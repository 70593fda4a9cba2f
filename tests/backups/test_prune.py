"""Pruning backups: real files and manifests in a private BACKUP_DIR, the real maintenance lock."""

import itertools
import json
import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from audit.models import AuditEntry, Outcome
from backups.locks import maintenance_lock
from backups.models import Backup, BackupKind, BackupStatus
from backups.pruning import backup_prune
from backups.services import BackupError, backup_dir, write_manifest

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=MADRID)
_serial = itertools.count(1)


@pytest.fixture(autouse=True)
def backup_settings(settings, tmp_path):
    """A private backup directory and lock file, and a policy small enough to reason about."""
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.VAR_DIR = tmp_path / "var"
    settings.BACKUP_KEEP_DAILY = 3
    settings.BACKUP_KEEP_WEEKLY = 0
    settings.BACKUP_KEEP_MONTHLY = 0
    settings.BACKUP_KEEP_YEARLY = 0
    settings.BACKUP_KEEP_SPECIAL_DAYS = 30
    return settings


def make_backup(days_ago: float = 0, *, at: datetime | None = None, verify_ok=True, with_file=True, **fields) -> Backup:
    """A finished backup with a small file and its manifest, like backup_create leaves them."""
    started = at or NOW - timedelta(days=days_ago)
    serial = next(_serial)
    content = f"backup {serial}\n".encode() * 10  # small, and not two files alike
    backup = Backup.objects.create(
        file_name=f"beils_test_{started:%Y%m%d_%H%M%S}_{serial}.sqlite3.gz",
        engine="sqlite",
        database="beils",
        started_at=started,
        finished_at=started + timedelta(minutes=1),
        size_bytes=len(content),
        verify_ok=verify_ok,
        verified_at=None if verify_ok is None else started + timedelta(minutes=2),
        **{"kind": BackupKind.SCHEDULED, "status": BackupStatus.SUCCESS, **fields},
    )
    if with_file:
        (backup_dir() / backup.file_name).write_bytes(content)
        write_manifest(backup, backup_dir())
    return backup


def daily_backups(days: int) -> list[Backup]:
    """One verified scheduled backup a day at 02:24, oldest first, the last one this morning."""
    return [make_backup(days_ago=n + 0.4) for n in reversed(range(days))]


def on_disk() -> set[str]:
    return {path.name for path in backup_dir().iterdir()}


def files_of(*backups: Backup) -> set[str]:
    return {name for b in backups for name in (b.file_name, f"{b.file_name}.json")}


def status_of(backup: Backup) -> str:
    backup.refresh_from_db()
    return backup.status


def pruned_entries():
    return list(AuditEntry.objects.filter(action="maintenance.backup.pruned"))


@contextmanager
def lock_held_elsewhere():
    """Another worker holds the maintenance lock (a thread: the lock is re-entrant only within one)."""
    taken, release = threading.Event(), threading.Event()

    def hold():
        try:
            with maintenance_lock():
                taken.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10), "the other worker never got the lock"
    try:
        yield
    finally:
        release.set()
        thread.join()


# --- Dry run ----------------------------------------------------------------------------------


def test_a_dry_run_lists_what_would_go_and_deletes_nothing():
    backups = daily_backups(5)
    before = on_disk()

    report = backup_prune(dry_run=True, now=NOW)

    assert report.dry_run
    assert [b.pk for b in report.deleted] == [backups[1].pk, backups[0].pk]
    assert [b.pk for b in report.kept] == [backups[4].pk, backups[3].pk, backups[2].pk]
    assert report.freed_bytes == sum((backup_dir() / name).stat().st_size for name in files_of(*backups[:2]))
    assert on_disk() == before
    assert {status_of(b) for b in backups} == {BackupStatus.SUCCESS}


def test_a_dry_run_is_audited_as_a_dry_run(admin_user):
    backups = daily_backups(4)

    backup_prune(dry_run=True, actor=admin_user, now=NOW)

    [entry] = pruned_entries()
    assert (entry.outcome, entry.actor) == (Outcome.DRY_RUN, admin_user)
    assert entry.detail["files"] == [backups[0].file_name]
    assert entry.detail["dry_run"] is True


# --- What goes --------------------------------------------------------------------------------


def test_pruning_deletes_exactly_the_files_and_manifests_the_policy_does_not_keep():
    backups = daily_backups(6)
    old, recent = backups[:3], backups[3:]
    freed = sum((backup_dir() / name).stat().st_size for name in files_of(*old))

    report = backup_prune(now=NOW)

    assert on_disk() == files_of(*recent)
    assert {b.pk for b in report.deleted} == {b.pk for b in old}
    assert report.freed_bytes == freed
    assert [status_of(b) for b in old] == [BackupStatus.DELETED] * 3
    assert [status_of(b) for b in recent] == [BackupStatus.SUCCESS] * 3


def test_pruned_backups_stay_in_the_catalogue_as_history():
    backups = daily_backups(5)

    backup_prune(now=NOW)

    assert Backup.objects.count() == 5
    assert set(Backup.objects.filter(status=BackupStatus.DELETED)) == set(backups[:2])


def test_a_run_writes_one_audit_entry_with_the_files_and_the_bytes_freed():
    backups = daily_backups(5)

    report = backup_prune(now=NOW)

    [entry] = pruned_entries()
    assert (entry.outcome, entry.actor_label) == (Outcome.SUCCESS, "system")
    assert sorted(entry.detail["files"]) == sorted(b.file_name for b in backups[:2])
    assert entry.detail["bytes_freed"] == report.freed_bytes > 0


def test_a_second_run_finds_nothing_more_to_delete():
    daily_backups(5)
    backup_prune(now=NOW)

    report = backup_prune(now=NOW)

    assert report.deleted == [] and report.freed_bytes == 0
    assert len(report.kept) == 3


def test_a_backup_whose_file_is_already_gone_is_still_pruned():
    gone = make_backup(days_ago=10, with_file=False)
    daily_backups(3)

    report = backup_prune(now=NOW)

    assert report.deleted == [gone]
    assert status_of(gone) == BackupStatus.DELETED


def test_a_file_that_cannot_be_deleted_stops_the_run_and_records_what_was_done():
    stuck, older = make_backup(days_ago=10, with_file=False), make_backup(days_ago=11)
    (backup_dir() / stuck.file_name).mkdir()  # unlink() refuses a directory
    newer = make_backup(days_ago=9)
    daily_backups(3)

    with pytest.raises(BackupError, match=f"Could not delete {stuck.file_name}"):
        backup_prune(now=NOW)

    assert status_of(newer) == BackupStatus.DELETED and not files_of(newer) & on_disk()
    assert (status_of(stuck), status_of(older)) == (BackupStatus.SUCCESS, BackupStatus.SUCCESS)
    assert files_of(older) <= on_disk()
    [entry] = pruned_entries()
    assert entry.outcome == Outcome.FAILURE
    assert entry.detail["files"] == [newer.file_name]


def test_backups_that_are_not_finished_are_left_alone():
    daily_backups(3)
    running = make_backup(days_ago=20, status=BackupStatus.RUNNING, verify_ok=None)
    failed = make_backup(days_ago=20, status=BackupStatus.FAILED, verify_ok=None, with_file=False)

    backup_prune(now=NOW)

    assert (status_of(running), status_of(failed)) == (BackupStatus.RUNNING, BackupStatus.FAILED)
    assert files_of(running) <= on_disk()


def test_the_default_policy_keeps_nineteen_of_four_hundred_daily_backups(backup_settings):
    backup_settings.BACKUP_KEEP_DAILY, backup_settings.BACKUP_KEEP_WEEKLY = 7, 4
    backup_settings.BACKUP_KEEP_MONTHLY, backup_settings.BACKUP_KEEP_YEARLY = 12, None
    first = date(2024, 1, 1)
    backups = [make_backup(at=datetime.combine(first + timedelta(n), datetime.min.time()).replace(hour=2, tzinfo=MADRID)) for n in range(400)]  # fmt: skip

    report = backup_prune(now=datetime(2025, 2, 4, 12, tzinfo=MADRID))

    # 1 Jan 2024 to 3 Feb 2025: the last 7 days, the Sundays of the 2 weeks before, the last day of
    # the 10 months before, and 31 Dec 2024 for the year (already kept as December's).
    kept_days = sorted(b.started_at.astimezone(MADRID).date() for b in report.kept)
    assert kept_days == sorted(
        [date(2024, m, 1) - timedelta(days=1) for m in range(4, 13)]
        + [date(2024, 12, 31), date(2025, 1, 19), date(2025, 1, 26)]
        + [date(2025, 1, 28) + timedelta(days=n) for n in range(7)]
    )
    assert len(report.deleted) == 400 - 19
    assert on_disk() == files_of(*report.kept)
    assert Backup.objects.filter(status=BackupStatus.DELETED).count() == 381
    assert set(Backup.objects.filter(status=BackupStatus.SUCCESS)) == set(report.kept) < set(backups)


# --- What never goes ---------------------------------------------------------------------------


def test_unverified_backups_are_never_deleted():
    unverified = make_backup(days_ago=100, verify_ok=None)
    daily_backups(5)

    report = backup_prune(now=NOW)

    assert unverified in report.kept
    assert status_of(unverified) == BackupStatus.SUCCESS
    assert files_of(unverified) <= on_disk()


def test_the_newest_good_backup_is_kept_even_when_everything_newer_is_unverified(backup_settings):
    backup_settings.BACKUP_KEEP_DAILY = 0  # the policy itself keeps only the newest scheduled one
    oldest, older = make_backup(days_ago=45), make_backup(days_ago=40)
    newest_good = make_backup(days_ago=35, kind=BackupKind.SAFETY)  # and past the special limit
    newer_unverified = [make_backup(days_ago=n, verify_ok=None) for n in (1, 2)]

    report = backup_prune(now=NOW)

    assert report.deleted == [oldest]
    assert {newest_good, older, *newer_unverified} == set(report.kept)
    assert report.reasons[newest_good.file_name] == "the newest verified-good backup"


def test_nothing_is_deleted_while_no_backup_has_passed_verification():
    failed = [make_backup(days_ago=n, verify_ok=False) for n in (3, 20)]
    unverified = make_backup(days_ago=1, verify_ok=None)
    partial_only = make_backup(days_ago=90, tables_requested=["crm_client"])  # good, but not a full backup

    report = backup_prune(now=NOW)

    assert report.deleted == []
    assert set(report.kept) == {*failed, unverified, partial_only}
    assert on_disk() == files_of(*failed, unverified, partial_only)


def test_a_backup_that_failed_verification_goes_once_a_newer_good_one_exists():
    failed_older = make_backup(days_ago=2.5, verify_ok=False)
    good = make_backup(days_ago=2)
    failed_newer = make_backup(days_ago=1, verify_ok=False)

    report = backup_prune(now=NOW)

    assert report.deleted == [failed_older]
    assert set(report.kept) == {good, failed_newer}


# --- Special backups ---------------------------------------------------------------------------


def test_partial_safety_and_pre_migration_backups_are_kept_thirty_days_then_deleted():
    daily_backups(3)
    young = [
        make_backup(days_ago=29, tables_requested=["crm_client"]),
        make_backup(days_ago=29, kind=BackupKind.SAFETY),
        make_backup(days_ago=10, kind=BackupKind.PRE_MIGRATE),
    ]
    old = [
        make_backup(days_ago=31, tables_requested=["crm_client"]),
        make_backup(days_ago=31, kind=BackupKind.SAFETY),
        make_backup(days_ago=400, kind=BackupKind.PRE_MIGRATE),
    ]

    report = backup_prune(now=NOW)

    assert set(report.deleted) == set(old)
    assert set(young) <= set(report.kept)
    assert report.reasons[old[2].file_name] == "pre-migration backup older than 30 days"


def test_special_backups_do_not_take_a_scheduled_backups_place(backup_settings):
    backup_settings.BACKUP_KEEP_DAILY = 2
    scheduled = [make_backup(days_ago=n + 0.5) for n in (2, 1)]
    make_backup(days_ago=0.2, kind=BackupKind.PRE_MIGRATE)  # newer than both, on its own day

    report = backup_prune(now=NOW)

    assert set(scheduled) <= set(report.kept)


def test_an_unverified_special_backup_is_kept_past_its_thirty_days():
    daily_backups(3)
    safety = make_backup(days_ago=60, kind=BackupKind.SAFETY, verify_ok=None)

    assert safety in backup_prune(now=NOW).kept


# --- The command --------------------------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command("prunebackups", *args, stdout=out)
    return out.getvalue()


def test_the_command_dry_run_shows_what_would_go_with_sizes_and_deletes_nothing():
    backups = daily_backups(5)
    before = on_disk()

    output = run("--dry-run")

    assert "Would delete (2)" in output and "Kept (3)" in output
    assert all(b.file_name in output for b in backups)
    assert all(f"{b.size_bytes} B  {b.file_name}" in output for b in backups)
    assert on_disk() == before


def test_the_command_deletes_and_says_how_much_was_freed():
    backups = daily_backups(5)

    output = run()

    assert "Deleted 2 backup(s), kept 3" in output
    assert on_disk() == files_of(*backups[2:])


def test_the_command_prints_json_for_scripts():
    backups = daily_backups(5)

    report = json.loads(run("--json", "--dry-run"))

    assert report["ok"] and report["dry_run"]
    assert [row["file_name"] for row in report["deleted"]] == [backups[1].file_name, backups[0].file_name]
    assert [row["id"] for row in report["kept"]] == [b.pk for b in reversed(backups[2:])]
    assert report["freed_bytes"] > 0
    assert report["deleted"][0]["reason"] == "not needed by the retention policy"


def test_the_command_fails_while_another_maintenance_operation_runs():
    backups = daily_backups(5)

    with lock_held_elsewhere(), pytest.raises(CommandError, match="already running"):
        run()

    assert on_disk() == files_of(*backups)
    assert pruned_entries() == []
