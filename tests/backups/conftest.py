"""A real S3 API on loopback: moto's server in a subprocess, spoken to over HTTP by boto3."""

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers import free_port


def _wait_until_listening(port: int, process: subprocess.Popen, log: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not listen on port {port} within {seconds} s")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The endpoint URL of an S3 server on 127.0.0.1, with test credentials in the environment
    (boto3 reads them there, as in production) for the whole session."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Path(sys.executable).with_name("moto_server")
    # The request log goes to a file: a pipe nobody reads would fill up and stall the server.
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=sink, stderr=sink)
    with pytest.MonkeyPatch.context() as environment:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
            environment.delenv(name, raising=False)
        environment.setenv("AWS_ACCESS_KEY_ID", "testing")
        environment.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        environment.setenv("AWS_DEFAULT_REGION", "us-east-1")
        try:
            _wait_until_listening(port, process, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def s3_bucket(s3_server, settings):
    """A fresh bucket for one test, set as the backups' off-site S3 target."""
    import boto3

    name = f"beils-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    settings.BACKUP_S3_BUCKET = name
    settings.BACKUP_S3_ENDPOINT_URL = s3_server
    settings.BACKUP_S3_PREFIX = "beils/"
    return name
