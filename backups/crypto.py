"""Backup encryption with age (https://age-encryption.org): files that the standard ``age``
tool decrypts without Beils, given the key. The key is an age identity (AGE-SECRET-KEY-1…) in
BACKUP_ENCRYPTION_KEY or in the file BACKUP_ENCRYPTION_KEY_FILE; it never goes on a command line."""

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from backups.pipeline import PipelineError
from beils.lib.private import credentials_file

SUFFIX = ".age"


def identity() -> str | None:
    if settings.BACKUP_ENCRYPTION_KEY:
        return settings.BACKUP_ENCRYPTION_KEY.strip()
    if settings.BACKUP_ENCRYPTION_KEY_FILE:
        return Path(settings.BACKUP_ENCRYPTION_KEY_FILE).read_text().strip()
    return None


def enabled() -> bool:
    return identity() is not None


def _require_age() -> None:
    if not shutil.which("age"):
        raise PipelineError(
            _("Backups are set to be encrypted but the 'age' tool is not installed (apt-get install age).")
        )


def recipient(key: str) -> str:
    """The public recipient for a key: the key itself if it is one, else derived from the identity."""
    _require_age()
    if key.startswith("age1"):
        return key
    result = subprocess.run(["age-keygen", "-y"], input=key.encode(), capture_output=True, check=False)  # noqa: S603, S607
    if result.returncode != 0:
        raise PipelineError(
            _("BACKUP_ENCRYPTION_KEY is not a valid age key: %(error)s") % {"error": result.stderr.decode().strip()}
        )
    return result.stdout.decode().strip()


def encrypt_stage() -> list[str]:
    return ["age", "--encrypt", "--recipient", recipient(identity())]


@contextlib.contextmanager
def decrypt_stage() -> Iterator[list[str]]:
    key = identity()
    if key is None or key.startswith("age1"):
        raise PipelineError(
            _("This backup is encrypted: set BACKUP_ENCRYPTION_KEY (or _FILE) to the age identity to read it.")
        )
    _require_age()
    if settings.BACKUP_ENCRYPTION_KEY_FILE and not settings.BACKUP_ENCRYPTION_KEY:
        yield ["age", "--decrypt", "--identity", settings.BACKUP_ENCRYPTION_KEY_FILE]
        return
    with credentials_file(key + "\n") as path:
        yield ["age", "--decrypt", "--identity", str(path)]
