"""The old database: where it is, how to connect without a password on the command line, and
how to read it in batches.

The password comes, in this order, from the URL, ``LEGACY_DATABASE_PASSWORD``, or an option file
(``--defaults-file``, the ``[client]`` group, as the ``mariadb`` client reads it). It is never
stored: ``public_url`` is what runs, logs and audit entries show.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.utils.translation import gettext as _

from legacy.models import LegacyError

BATCH = 1000


@dataclass(frozen=True)
class SourceConfig:
    host: str = "127.0.0.1"
    port: int = 3306
    user: str | None = None
    password: str | None = None
    database: str = ""
    defaults_file: str | None = None

    @property
    def public_url(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"mysql://{who}{self.host}:{self.port}/{self.database}"


def source_config(
    url: str | None = None, *, defaults_file: str | None = None, password: str | None = None
) -> SourceConfig:
    """The connection settings from a ``mysql://user[:pass]@host[:port]/db`` URL (default:
    ``LEGACY_DATABASE_URL``)."""
    url = url or os.environ.get("LEGACY_DATABASE_URL")
    if not url:
        raise LegacyError(_("Name the legacy database: --from mysql://user@host/dbname (or set LEGACY_DATABASE_URL)."))
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb") or not parts.path.strip("/"):
        raise LegacyError(_("The legacy database URL looks like mysql://user@host:3306/dbname."))
    try:
        port = parts.port or 3306
    except ValueError as exc:
        raise LegacyError(_("The port of the legacy database URL is not a number.")) from exc
    return SourceConfig(
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=password
        or (unquote(parts.password) if parts.password else None)
        or os.environ.get("LEGACY_DATABASE_PASSWORD"),
        database=parts.path.strip("/"),
        defaults_file=defaults_file,
    )


class LegacySource:
    """A read-only connection to the old database."""

    def __init__(self, config: SourceConfig):
        import MySQLdb

        kwargs = {"host": config.host, "port": config.port, "database": config.database, "charset": "utf8mb4"}
        if config.defaults_file:
            kwargs["read_default_file"] = config.defaults_file
        if config.user:
            kwargs["user"] = config.user
        if config.password:
            kwargs["password"] = config.password
        try:
            self.db = MySQLdb.connect(**kwargs)
        except MySQLdb.Error as exc:
            # The driver's message names user and host, never the password.
            raise LegacyError(
                _("Cannot open the legacy database %(url)s: %(error)s")
                % {"url": config.public_url, "error": exc.args[-1]}
            ) from exc
        self.config = config
        cursor = self.db.cursor()
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
        # One consistent view of the old data for the whole run, even if the old app still writes.
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        self._tables = {row[0] for row in self.tuples("SHOW TABLES")}

    def close(self) -> None:
        self.db.close()

    def has_table(self, table: str) -> bool:
        return table in self._tables

    def tuples(self, sql: str, params=()) -> list[tuple]:
        cursor = self.db.cursor()
        cursor.execute(sql, params)
        return list(cursor.fetchall())

    def rows(self, sql: str, params=()) -> list[dict]:
        import MySQLdb.cursors

        cursor = self.db.cursor(MySQLdb.cursors.DictCursor)
        cursor.execute(sql, params)
        return list(cursor.fetchall())

    def scalar(self, sql: str, params=()):
        return self.tuples(sql, params)[0][0]

    def count(self, table: str) -> int:
        return self.scalar(f"SELECT COUNT(*) FROM `{table}`") if table and self.has_table(table) else 0  # noqa: S608

    def batches(self, table: str, key: str, *, size: int = BATCH) -> Iterator[list[dict]]:
        """Every row of ``table`` in primary-key order, ``size`` at a time (keyset pagination:
        memory holds one batch, and each query is an index range scan)."""
        last = ""
        while True:
            batch = self.rows(
                f"SELECT * FROM `{table}` WHERE `{key}` > %s ORDER BY `{key}` LIMIT %s",  # noqa: S608
                (last, size),
            )
            if not batch:
                return
            yield batch
            last = batch[-1][key]

    def rows_in(self, table: str, column: str, values: list) -> list[dict]:
        if not values:
            return []
        marks = ",".join(["%s"] * len(values))
        return self.rows(f"SELECT * FROM `{table}` WHERE `{column}` IN ({marks}) ORDER BY 1", tuple(values))  # noqa: S608
