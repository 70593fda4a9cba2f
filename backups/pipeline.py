"""Streaming through external programs with bounded memory.

A pipeline is a Python *source* of byte chunks, a chain of programs (compress, encrypt, or the
reverse) joined by OS pipes, and a Python *sink*. Python touches the data only at the two ends,
in fixed-size chunks, so memory stays flat whatever the size; the heavy lifting (pigz, age,
mariadb-dump, mariadb) runs in parallel processes.
"""

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.utils.translation import gettext as _

CHUNK = 1 << 20
# Backups run beside the salon's own queries on a small machine: their helper processes and
# pump threads yield the CPU to the database server (see docs/benchmarks.md, INSERT waits).
NICENESS = 10


def _yield_cpu(tid: int) -> None:
    """Linux's idle scheduling class for thread ``tid`` (0: the caller): it runs only on a core
    nothing else wants, and a database server's thread that wakes up takes the core at once.
    At nice 10 the salon's INSERTs still waited 28 ms (p99) during a backup, against 7 ms beside
    a plain ``mariadb-dump | gzip``. Where the class does not exist, nice 10."""
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, tid, NICENESS)


def lower_priority() -> None:
    """Lower the priority of the calling thread (Linux: threads have their own)."""
    _yield_cpu(threading.get_native_id())


def _nice_child() -> None:  # runs in the child between fork and exec
    _yield_cpu(0)


def widen(pipe) -> None:
    """1 MiB pipe buffers instead of 64 KiB: far fewer wake-ups per megabyte."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, CHUNK)


class PipelineError(Exception):
    """A stage of a backup or restore pipeline failed; nothing it wrote can be trusted."""


def compressor(level: int) -> list[str]:
    """pigz when it is installed (its output is plain gzip), else gzip. pigz leaves one core to
    the database server: on every core, it made the salon's INSERTs wait longer during the
    nightly backup than a plain ``mariadb-dump | gzip`` does (docs/benchmarks.md)."""
    if shutil.which("pigz"):
        return ["pigz", f"-{level}", "-p", str(max(1, (os.cpu_count() or 1) - 1)), "-c"]
    return ["gzip", f"-{level}", "-c"]


def decompressor() -> list[str]:
    return ["pigz", "-d", "-c"] if shutil.which("pigz") else ["gzip", "-d", "-c"]


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


@dataclass
class Pipeline:
    """Run ``source → stages… → sink``; raise :class:`PipelineError` if any part fails."""

    stages: list[list[str]]
    env: dict | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    def run(self, source: Iterable[bytes], sink: Callable[[bytes], None]) -> None:
        errors: list[BaseException] = []
        with tempfile.TemporaryDirectory(prefix="beils-pipe-") as scratch:
            logs = [open(Path(scratch) / f"stage{i}.err", "w+b") for i in range(len(self.stages))]  # noqa: SIM115
            try:
                self._start(logs)
                first, last = self.processes[0], self.processes[-1]
                feeder = threading.Thread(target=self._feed, args=(source, first.stdin, errors), daemon=True)
                feeder.start()
                try:
                    for chunk in read_chunks(last.stdout):
                        sink(chunk)
                except BaseException as exc:
                    errors.append(exc)
                    self.kill()
                feeder.join()
                codes = [p.wait() for p in self.processes]
                if errors:
                    raise PipelineError(str(errors[0])) from errors[0]
                for stage, code, log in zip(self.stages, codes, logs, strict=True):
                    if code != 0:
                        log.seek(0)
                        message = log.read().decode(errors="replace").strip()[-2000:]
                        raise PipelineError(
                            _("%(program)s exited with status %(code)s: %(message)s")
                            % {"program": stage[0], "code": code, "message": message or _("no message")}
                        )
            finally:
                self.kill()
                for log in logs:
                    log.close()

    def _start(self, logs) -> None:
        previous = subprocess.PIPE
        for i, command in enumerate(self.stages):
            process = subprocess.Popen(  # noqa: S603 (our own argument lists, never a shell)
                command,
                stdin=previous,
                stdout=subprocess.PIPE,
                stderr=logs[i],
                env=self.env,
                close_fds=True,
                preexec_fn=_nice_child,  # noqa: PLW1509 (no threads touch the child before exec)
            )
            widen(process.stdout)
            if i == 0:
                widen(process.stdin)
            if i > 0:
                self.processes[-1].stdout.close()  # the next stage owns the read end now
            self.processes.append(process)
            previous = process.stdout

    def _feed(self, source: Iterable[bytes], stdin: BinaryIO, errors: list) -> None:
        lower_priority()
        try:
            for chunk in source:
                stdin.write(chunk)
        except BaseException as exc:  # a broken pipe means a later stage died: reported by its exit code
            if not isinstance(exc, BrokenPipeError):
                errors.append(exc)
            self.kill()
        finally:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# --- Watching a SQL dump go by -------------------------------------------------------------

# A quoted SQL string as mariadb-dump writes it (backslash escapes), to be ignored when counting
# the "),(" that separate rows of an extended INSERT.
_SQL_STRING = re.compile(rb"'(?:[^'\\]|\\.)*'", re.DOTALL)
_INSERT = re.compile(rb"^INSERT INTO `((?:[^`]|``)+)` VALUES ")
_STRUCTURE = re.compile(rb"^-- Table structure for table `((?:[^`]|``)+)`")
TRAILER = b"-- Dump completed"
# Written by mariadb-dump --master-data=2 --gtid: where the binary log stood at the snapshot.
_BINLOG = re.compile(rb"^-- CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+);")
_GTID = re.compile(rb"^-- SET GLOBAL gtid_slave_pos='([^']*)';")


@dataclass
class DumpStats:
    tables: dict[str, dict] = field(default_factory=dict)
    trailer: bool = False
    bytes: int = 0
    binlog: dict | None = None  # {"file", "position", "gtid"} for point-in-time recovery

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.tables.values())


class DumpInspector:
    """Reads a mariadb-dump stream chunk by chunk: per table, the rows and a SHA-256 of its data;
    and whether the dump's completion trailer came at the end. Dumping a restored copy with the
    same options gives the same figures, which is how a restore test proves the data came back.

    MariaDB 10.x writes ``INSERT INTO `t` VALUES`` on a line of its own and then one row per
    line (newlines inside strings are escaped), so inside a statement rows are counted and hashed
    a whole chunk at a time. The older one-statement-per-line style is parsed line by line.
    """

    def __init__(self):
        self.stats = DumpStats()
        self._hashes: dict[str, hashlib._Hash] = {}
        self._pending = b""
        self._tail = b""
        self._insert: str | None = None  # the table whose rows are streaming by

    def feed(self, chunk: bytes) -> bytes:
        # Indices into one buffer rather than slices: at hundreds of MB, every copy counts.
        self.stats.bytes += len(chunk)
        self._tail = (self._tail + chunk[-512:])[-512:]
        data = self._pending + chunk if self._pending else chunk
        view, at = memoryview(data), 0
        while at < len(data):
            if self._insert is not None:
                end = _statement_end(data, at)
                cut = end + 2 if end >= 0 else data.rfind(b"\n", at) + 1
                if cut <= at:
                    break
                self.stats.tables[self._insert]["rows"] += data.count(b"\n", at, cut)
                self._hashes[self._insert].update(view[at:cut])
                if end >= 0:
                    self._insert = None
                at = cut
            else:
                newline = data.find(b"\n", at)
                if newline < 0:
                    break
                self._line(data[at:newline])
                at = newline + 1
        self._pending = data[at:]
        view.release()
        return chunk

    def _line(self, line: bytes) -> None:
        if match := _STRUCTURE.match(line):
            self._table(match.group(1).decode())
        elif match := _INSERT.match(line + b" "):
            name = self._table(match.group(1).decode())
            values = line[match.end() :]
            if values:  # the whole statement on one line
                self.stats.tables[name]["rows"] += _SQL_STRING.sub(b"''", values).count(b"),(") + 1
                self._hashes[name].update(values + b"\n")
            else:
                self._insert = name
        elif line.startswith(b"-- ") and (match := _BINLOG.match(line) or _GTID.match(line)):
            binlog = self.stats.binlog = self.stats.binlog or {}
            if match.re is _BINLOG:
                binlog.update(file=match.group(1).decode(), position=int(match.group(2)))
            else:
                binlog["gtid"] = match.group(1).decode()

    def _table(self, name: str) -> str:
        if name not in self.stats.tables:
            self.stats.tables[name] = {"rows": 0}
            self._hashes[name] = hashlib.sha256()
        return name

    def close(self) -> DumpStats:
        if self._pending and self._insert is None:
            self._line(self._pending)
        last_line = self._tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        self.stats.trailer = last_line.startswith(TRAILER) and self._insert is None
        for name, digest in self._hashes.items():
            self.stats.tables[name]["sha256"] = digest.hexdigest()
        return self.stats


def _statement_end(data: bytes, at: int) -> int:
    """Where ``;\n`` ends the INSERT statement, or -1. A one-byte search (memchr) is several
    times faster than a two-byte one, and a ';' inside a string value is rare."""
    while (found := data.find(b";", at)) >= 0:
        if data[found + 1 : found + 2] == b"\n":
            return found
        at = found + 1
    return -1


def inspect(source: Iterable[bytes], inspector: DumpInspector) -> Iterator[bytes]:
    for chunk in source:
        yield inspector.feed(chunk)


# Session settings the dump sets and restores around the data (kept when filtering tables).
_SESSION_SETTING = re.compile(rb"^/\*M?!\d+ SET [^;]*\*/;$")


def filter_tables(source: Iterable[bytes], tables: set[str]) -> Iterator[bytes]:
    """Only the sections (structure, data, triggers) of ``tables``, with the dump's header and
    session settings; the other tables, events and routines are dropped as the stream goes by."""
    pending, section = b"", None  # None: the header, before the first table
    for chunk in source:
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        out = []
        for line in lines:
            if match := _STRUCTURE.match(line):
                section = match.group(1).decode()
            elif line.startswith((b"-- Dumping routines", b"-- Dumping events")):
                section = ""
            if section is None or section in tables or _SESSION_SETTING.match(line) or line.startswith(TRAILER):
                out.append(line)
        if out:
            yield b"\n".join(out) + b"\n"
    if pending and pending.startswith(TRAILER):
        yield pending


# A trigger's owner as mariadb-dump writes it: ``/*!50003 CREATE*/ /*!50017 DEFINER=`u`@`h`*/``.
_TRIGGER_DEFINER = re.compile(rb"^(/\*!50003 CREATE\*/ )/\*!50017 DEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*`\*/ ", re.M)


def without_definers(source: Iterable[bytes]) -> Iterator[bytes]:
    """The dump with its triggers' DEFINER clauses removed, so that a restore by the account
    Beils runs as (not a SUPER one) creates them as its own: naming another owner needs SUPER or
    SET USER, and the dump names whoever ran ``migrate``. Only complete lines are matched; chunks
    without a definer pass through untouched (one C-level search each)."""
    pending = b""
    for chunk in source:
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        pending, data = data[cut:], data[:cut]
        if b"DEFINER=" in data:
            data = _TRIGGER_DEFINER.sub(rb"\1", data)
        if data:
            yield data
    if pending:
        yield _TRIGGER_DEFINER.sub(rb"\1", pending)


# Where mariadb-dump starts a section: a table (its structure, data and triggers, loadable on a
# connection of its own), or a view, the events or the routines (loaded once every table is in).
_TABLE_HEADER = b"-- Table structure for table "
_LATER_HEADERS = (
    b"-- Temporary table structure for view ",
    b"-- Temporary view structure for view ",
    b"-- Final view structure for view ",
    b"-- Dumping events for database ",
    b"-- Dumping routines for database ",
)


def dump_sections(source: Iterable[bytes]) -> Iterator[tuple[str, bytes]]:
    """The dump as ``(kind, bytes)`` pieces: ``"table"`` or ``"later"`` starts a new section
    with those bytes, ``"more"`` continues the current one. What comes before the first section
    (the session settings) is ``"head"``. Only line starts are looked at, and the rows of an
    INSERT start with ``(``, so one C-level search per megabyte finds the headers."""
    pending, kind = b"", "head"
    for chunk in source:
        data = pending + chunk
        end = data.rfind(b"\n") + 1
        pending, at = data[end:], 0
        for line in _comment_lines(data, end):
            header = data[line : data.find(b"\n", line)]
            starts = (
                "table" if header.startswith(_TABLE_HEADER) else "later" if header.startswith(_LATER_HEADERS) else None
            )
            if starts:
                if line > at:
                    yield kind, data[at:line]
                kind, at = starts, line
        if end > at:
            yield kind, data[at:end]
        if kind != "head":
            kind = "more"
    if pending:
        yield kind, pending


def _comment_lines(data: bytes, end: int) -> Iterator[int]:
    """Where the lines starting with ``-- `` start in ``data[:end]`` (which starts a line)."""
    if data.startswith(b"-- "):
        yield 0
    line = data.find(b"\n-- ", 0, end)
    while line >= 0:
        yield line + 1
        line = data.find(b"\n-- ", line + 1, end)


# The dump's LOCK TABLES around each table's rows: with other tables created meanwhile on other
# connections, the server wants the tables their foreign keys name locked too, and refuses.
_LOCK_TABLES = re.compile(rb"^(?:LOCK TABLES `(?:[^`]|``)+` WRITE|UNLOCK TABLES);\n", re.M)

#: How far the reading of the dump may run ahead of the loading connections (spooled on disk).
SPOOL_AHEAD = 512 * 2**20


class _Spooled:
    """One table's section of the dump, in a file: written by the reader of the dump, read by a
    loading connection meanwhile (it may start on a table before the table has been read whole)."""

    def __init__(self, path: Path):
        self.path, self.written, self.complete = path, 0, False
        self.out = open(path, "wb")  # noqa: SIM115 (closed by ParallelLoad._close)


class ParallelLoad:
    """Run ``command`` (a SQL client) on ``workers`` connections at once, each loading whole
    tables of one dump: a table's section (structure, rows, triggers; without its LOCK TABLES)
    goes to whichever connection is free, after the dump's session settings (foreign key checks
    off…). Views, events and routines are loaded last, on one connection, once every table is
    in. Any connection failing stops them all and fails the load.

    The dump is read once, in order; tables wait in ``spool`` (a private directory) for a free
    connection, at most SPOOL_AHEAD bytes ahead of the loading."""

    def __init__(self, command: list[str], workers: int, spool: Path, env: dict | None = None):
        self.command, self.workers, self.spool, self.env = command, workers, spool, env
        self.pipelines: list[Pipeline] = []
        self.error: BaseException | None = None
        self._head: list[bytes] = []
        self._queue: list[_Spooled] = []
        self._ahead = self._opened = 0
        self._ended = False
        self._lock = threading.Condition()

    def run(self, source: Iterable[bytes]) -> None:
        threads: list[threading.Thread] = []
        later: list[bytes] = []
        current: _Spooled | list[bytes] = self._head
        try:
            for kind, data in dump_sections(source):
                if self.error is not None:
                    break
                if kind == "table":
                    self._close(current)
                    current = self._open()
                    if not threads:
                        threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.workers)]
                        for thread in threads:
                            thread.start()
                elif kind == "later":
                    self._close(current)
                    current = later
                if current is not later and b"LOCK TABLES" in data:
                    data = _LOCK_TABLES.sub(b"", data)
                self._write(current, data)
        except BaseException as exc:
            self.fail(exc)
        finally:
            self._close(current)
            with self._lock:
                self._ended = True
                self._lock.notify_all()
            for thread in threads:
                thread.join()
        if self.error is None:
            self._load([*self._head, *later])
        if self.error is not None:
            raise self.error if isinstance(self.error, PipelineError) else PipelineError(str(self.error))

    def _open(self) -> _Spooled:
        self._opened += 1
        section = _Spooled(self.spool / f"{self._opened}.sql")
        with self._lock:
            self._queue.append(section)
            self._lock.notify_all()
        return section

    def _write(self, current: "_Spooled | list[bytes]", data: bytes) -> None:
        if isinstance(current, list):
            current.append(data)
            return
        with self._lock:
            self._lock.wait_for(lambda: self._ahead < SPOOL_AHEAD or self.error is not None)
        current.out.write(data)
        current.out.flush()
        with self._lock:
            current.written += len(data)
            self._ahead += len(data)
            self._lock.notify_all()

    def _close(self, current: "_Spooled | list[bytes]") -> None:
        if isinstance(current, _Spooled) and not current.out.closed:
            current.out.close()
            with self._lock:
                current.complete = True
                self._lock.notify_all()

    def _work(self) -> None:
        self._load(self._sections())

    def _load(self, source: Iterable[bytes]) -> None:
        pipeline = Pipeline([self.command], env=self.env)
        with self._lock:
            self.pipelines.append(pipeline)
        try:
            pipeline.run(source, lambda chunk: None)
        except PipelineError as exc:
            self.fail(exc)

    def _sections(self) -> Iterator[bytes]:
        """The session settings, then table after table as they come free."""
        yield from self._head
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._queue or self._ended or self.error is not None)
                if self.error is not None or not self._queue:
                    return
                section = self._queue.pop(0)
            yield from self._read(section)

    def _read(self, section: _Spooled) -> Iterator[bytes]:
        with open(section.path, "rb") as handle:
            done = 0
            while True:
                with self._lock:
                    self._lock.wait_for(
                        lambda done=done: section.written > done or section.complete or self.error is not None
                    )
                    if self.error is not None:
                        raise PipelineError(_("stopped: another connection of the load failed"))
                    available, complete = section.written - done, section.complete
                if not available and complete:
                    break
                while available:
                    chunk = handle.read(min(CHUNK, available))
                    available, done = available - len(chunk), done + len(chunk)
                    with self._lock:
                        self._ahead -= len(chunk)
                        self._lock.notify_all()
                    yield chunk
        section.path.unlink()

    def fail(self, error: BaseException) -> None:
        """Stop every connection; the first error is the one reported."""
        with self._lock:
            if self.error is None:
                self.error = error
            self._lock.notify_all()
            pipelines = list(self.pipelines)
        for pipeline in pipelines:
            pipeline.kill()

    def kill(self) -> None:
        self.fail(PipelineError(_("the load was stopped")))
