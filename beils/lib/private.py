"""Files only the account running Beils can read: backups, manifests, the erasure ledger,
credentials. Created with their mode (0600 files, 0700 directories) rather than chmod-ed after,
so there is no moment when another local user could open them, whatever the process umask.
"""

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path | str) -> Path:
    """``path`` (and missing parents) created 0700; an existing directory is narrowed to 0700
    when it is ours (a directory an operator gave us on a shared mount may not be)."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, DIR_MODE)
    return path


def private_open(path: Path | str, mode: str = "wb", *, exclusive: bool = False):
    """Like ``open`` for writing ("wb", "w", "ab", "a"), the file created 0600 (an existing
    file is narrowed to 0600 too: it was perhaps written by an older version)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    if exclusive:
        flags |= os.O_EXCL
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"}))
    except BaseException:
        os.close(fd)
        raise


def write_private_text(path: Path | str, text: str) -> None:
    with private_open(path, "w") as handle:
        handle.write(text)


def credentials_dir() -> Path:
    from django.conf import settings

    return private_dir(Path(settings.VAR_DIR) / "credentials")


@contextlib.contextmanager
def credentials_file(text: str) -> Iterator[Path]:
    """A 0600 file holding ``text`` under VAR_DIR/credentials, removed on the way out.

    Never the system temp dir (shared, often on another disk, kept by crash dumps). The name is
    ``<pid>-<random>.cnf``: a reaper removes the files of processes that died before cleaning up
    (killed with SIGKILL, say), so keep that naming."""
    path = credentials_dir() / f"{os.getpid()}-{secrets.token_urlsafe(12)}.cnf"
    try:
        with private_open(path, "w", exclusive=True) as handle:
            handle.write(text)
        yield path
    finally:
        path.unlink(missing_ok=True)


def sqlite_file_private(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: the embedded SQLite database holds every client's data,
    and SQLite creates it with the process umask (0644). Narrowed to 0600 as it is opened; SQLite
    gives its -wal, -shm and -journal files the database file's mode."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        return
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if os.stat(name).st_mode & 0o077:
            os.chmod(name, FILE_MODE)
