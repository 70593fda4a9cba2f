"""What a second machine needs is never on one machine's disk or in one process: uploads, job
files and progress go through the shared storage and cache; beat sends each job once."""

import io

import pytest
from django.test import override_settings

from crm.models import Client, Role, User
from tests.two_hosts.conftest import CACHE_DB, Admin, hidden_inputs, wait_for
from transfer.jobs import _write_progress
from transfer.models import Job, JobState

pytestmark = [pytest.mark.mariadb, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "Contraseña con # y 'comillas'"
DEFAULT_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.fixture
def alba(hosts):
    """The owner, signed in once; the load balancer may send her to either host."""
    with override_settings(PASSWORD_HASHERS=DEFAULT_HASHERS):  # what the hosts verify with
        user = User.objects.create_user(email="alba@salon.example", password=PASSWORD, name="Alba", role=Role.ADMIN)
    person = Admin(user.email, PASSWORD)
    person.login(hosts[0])
    person.user = user
    return person


def _clients_csv(count: int) -> bytes:
    rows = ["Email,Name"] + [f"cliente{i}@correo.example,Clienta {i} Peña" for i in range(count)]
    return ("\r\n".join(rows) + "\r\n").encode()


def _job_state(job_pk: int) -> str:
    return Job.objects.get(pk=job_pk).state


def test_a_large_upload_on_host_1_is_checked_on_host_2_and_confirmed_on_host_2(hosts, alba):
    one, two = hosts
    raw = _clients_csv(40_000)  # over 1 MB: checked by a worker, not in the request
    assert len(raw) > 1024 * 1024

    response = alba.post(
        one, "/admin/crm/client/import/", {"format": "0", "resource": "0"},
        files={"import_file": ("clientas.csv", io.BytesIO(raw), "text/csv")},
    )  # fmt: skip
    assert response.ok, response.text[-2000:]
    job = Job.objects.get()
    wait_for(lambda: _job_state(job.pk) == JobState.VALIDATED, "the dry run on host 2", hosts=hosts)
    assert "Task maintenance.run_job[" in two.log("worker") and "Task maintenance.run_job[" not in one.log("worker")

    # Both web nodes show the same job, and the same live progress from the shared cache.
    for host in hosts:
        assert alba.get(host, f"/admin/transfer/job/{job.pk}/progress/").json()["state"] == JobState.VALIDATED

    confirmed = alba.post(
        two, f"/admin/transfer/job/{job.pk}/confirm/", {}, form_page=f"/admin/transfer/job/{job.pk}/change/"
    )
    assert confirmed.ok, confirmed.text[-2000:]
    wait_for(lambda: _job_state(job.pk) == JobState.DONE, "the import on host 2", hosts=hosts)
    assert Client.all_objects.count() == 40_000
    assert Client.all_objects.filter(email="cliente39999@correo.example", name="Clienta 39999 Peña").exists()


def test_a_dry_run_on_host_1_is_confirmed_on_host_2(hosts, alba):
    one, two = hosts
    dry_run = alba.post(
        one, "/admin/crm/client/import/", {"format": "0", "resource": "0"},
        files={"import_file": ("pocas.csv", io.BytesIO(_clients_csv(3)), "text/csv")},
    )  # fmt: skip
    assert dry_run.ok and "Clienta 2 Peña" in dry_run.text, dry_run.text[-2000:]
    assert not Client.all_objects.exists()

    confirm = hidden_inputs(dry_run.text, "/admin/crm/client/process_import/")
    response = alba.post(two, "/admin/crm/client/process_import/", confirm, form_page="/admin/crm/client/import/")
    assert response.status_code == 200, response.text[-2000:]
    assert sorted(Client.all_objects.values_list("name", flat=True)) == [
        "Clienta 0 Peña",
        "Clienta 1 Peña",
        "Clienta 2 Peña",
    ]


def test_an_export_written_on_host_2_downloads_from_host_1_with_progress_on_both(hosts, alba):
    one, two = hosts
    Client.all_objects.bulk_create(Client(name=f"Clienta {n}", surname="Núñez") for n in range(2500))
    # Queued on host 2 (its own process, its own broker connection), as its web node would.
    queued = two.manage("shell", "-c", (
        "from crm.models import User; from transfer.jobs import job_export_create; "
        "from transfer.resources.crm import ClientResource; "
        f"job_export_create(resource_class=ClientResource, file_format='csv', actor=User.objects.get(pk={alba.user.pk}))"
    ))  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    job = Job.objects.get()
    wait_for(lambda: _job_state(job.pk) == JobState.DONE, "the export on host 2", hosts=hosts)

    download = alba.get(one, f"/admin/transfer/job/{job.pk}/download/")
    assert download.status_code == 200
    lines = download.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2501 and "Núñez" in lines[-1]

    # A job still running: what its worker writes to the shared cache shows on every web node.
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    job.refresh_from_db()
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                                "LOCATION": f"redis://127.0.0.1:6379/{CACHE_DB}"}}):  # fmt: skip
        _write_progress(job, 1234, 2500)
    for host in hosts:
        assert alba.get(host, f"/admin/transfer/job/{job.pk}/progress/").json()["done"] == 1234


def test_two_beats_on_two_hosts_send_each_slot_once(hosts):
    """Both hosts run beat (as a copied process list would): every slot of a job due every minute
    is sent once, the other beat notes the skip, and the ops worker runs it once."""
    import sys

    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from maintenance.models import ScheduleSlot

    PeriodicTask.objects.update(enabled=False)
    every_minute, _ = CrontabSchedule.objects.get_or_create(minute="*", hour="*", timezone="UTC")
    # A task nothing else sends: a starting worker and a starting beat each send a heartbeat.
    PeriodicTask.objects.create(name="Two-beat probe", task="maintenance.reap_stale_work", crontab=every_minute)
    for host in hosts:
        host.start("beat", [sys.executable, "-m", "celery", "-A", "beils", "beat", "--loglevel=INFO",
                            f"--pidfile={host.root / 'beat.pid'}", "--max-interval=5"])  # fmt: skip

    def runs() -> int:
        return sum(
            host.log("worker").count("Task maintenance.reap_stale_work[") // 2 for host in hosts
        )  # received + done

    def skipped() -> bool:
        return any("already sent by the beat on" in host.log("beat") for host in hosts)

    wait_for(skipped, "a beat skipping a slot the other sent", seconds=180, hosts=hosts)
    slots = ScheduleSlot.objects.filter(name="Two-beat probe")
    wait_for(lambda: runs() == slots.count(), "one run per slot", seconds=30, hosts=hosts)
    assert slots.count() >= 1
    assert runs() == slots.count()
    assert slots.filter(duplicates__gte=1).exclude(duplicate_host="").exists()  # the skip is noted
    assert "Task maintenance.reap_stale_work[" not in hosts[1].log("worker")  # the ops worker's queue


def _token(host, email: str, password: str) -> str:
    import requests

    response = requests.post(f"{host.url}/api/auth/token", json={"email": email, "password": password}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def test_erased_on_a_web_node_stays_erased_after_a_restore_on_the_ops_host(hosts, alba):
    """The person's signed consent (in the shared bucket) and an export holding her go with the
    erasure made on host 2; the backup taken before it, restored on host 1 (the ops host, where
    BACKUP_DIR is), does not bring her back."""
    import requests
    from django.core.files.base import ContentFile

    from backups.models import Backup, BackupStatus
    from tests.factories import SignedConsentFactory

    one, two = hosts
    consent = SignedConsentFactory(
        client__name="Begoña", client__surname="Ibáñez", client__email="begona@correo.example"
    )
    client = consent.client
    with override_settings(STORAGES=_shared_storages(one)):
        consent.document.save("firma.pdf", ContentFile(b"%PDF-1.4 firma de Begona"), save=True)
        document = consent.document.name
        from django.core.files.storage import storages

        bucket = storages.create_storage(_shared_storages(one)["default"])
        assert bucket.exists(document)

    backed_up = one.manage("backup", "--json")
    assert backed_up.returncode == 0, backed_up.stderr[-3000:]
    backup = Backup.objects.latest("pk")
    assert backup.host == "host-1"

    erased = requests.post(
        f"{two.url}/api/clients/{client.pk}/erase", json={"confirm": True},
        headers={"Authorization": f"Bearer {_token(two, alba.email, alba.password)}"}, timeout=120,
    )  # fmt: skip
    assert erased.status_code == 200, erased.text
    assert not bucket.exists(document), "the signed consent left the shared bucket"

    # Restore-testing host 1's backup from host 2 names the host that holds it and judges nothing.
    tested = two.manage("verifybackup", str(backup.pk), "--restore-test")
    assert tested.returncode != 0 and "host-1" in (tested.stdout + tested.stderr)
    backup.refresh_from_db()
    assert backup.status == BackupStatus.SUCCESS and backup.restore_tested_at is None

    restored = one.manage("restore", str(backup.pk), "--noinput", "--no-safety-backup", timeout=600)
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-3000:]
    assert restored.returncode == 0
    assert not Client.all_objects.filter(email="begona@correo.example").exists()
    assert not Client.all_objects.filter(name="Begoña").exists()
    assert not bucket.exists(document), "the restored files do not bring the erased person's document back"


def _shared_storages(host) -> dict:
    env = host.env
    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env["MEDIA_S3_BUCKET"], "endpoint_url": env["MEDIA_S3_ENDPOINT_URL"],
                "location": "media", "addressing_style": "path", "default_acl": None,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }  # fmt: skip
