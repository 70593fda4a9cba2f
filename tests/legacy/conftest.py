"""A legacy Beils Dashboard database to import from: ``schema.sql`` and ``make_legacy_data.py``
loaded into a scratch MariaDB database of its own, dropped afterwards."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import MySQLdb
import pytest
from django.db import connection

LEGACY_DIR = Path(os.environ.get("LEGACY_FIXTURES_DIR", "/work/shared/legacy"))


def server_params() -> dict:
    params = connection.get_connection_params()
    params.pop("database", None)
    params.pop("db", None)
    return params


def mariadb(database: str | None, sql: str, params=()) -> list[tuple]:
    with MySQLdb.connect(**server_params(), **({"database": database} if database else {})) as db:
        cursor = db.cursor()
        cursor.execute(sql, params)
        rows = list(cursor.fetchall())
        db.commit()
        return rows


def _cli(database: str) -> list[str]:
    params = server_params()
    cli = ["mariadb", "--protocol=tcp", "-h", params.get("host") or "127.0.0.1", "-P", str(params.get("port") or 3306),
           "-u", params["user"]]  # fmt: skip
    return cli + ([f"-p{params['password']}"] if params.get("password") else []) + [database]


class LegacyDatabase:
    def __init__(self, name: str):
        self.name = name
        self.url = f"mysql://{server_params()['user']}@{server_params().get('host') or '127.0.0.1'}:{server_params().get('port') or 3306}/{name}"

    def load(self, *, clients: int, seed: int) -> "LegacyDatabase":
        subprocess.run(_cli(self.name), stdin=(LEGACY_DIR / "schema.sql").open("rb"), check=True)
        data = subprocess.run(
            [sys.executable, str(LEGACY_DIR / "make_legacy_data.py"), "--clients", str(clients), "--seed", str(seed)],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        subprocess.run(_cli(self.name), input=data, check=True)
        return self

    def sql(self, statement: str, params=()) -> list[tuple]:
        return mariadb(self.name, statement, params)

    def scalar(self, statement: str, params=()):
        return self.sql(statement, params)[0][0]


@pytest.fixture
def legacy_db():
    """An empty scratch database with a unique name; ``.load()`` fills it."""
    if connection.vendor != "mysql":
        pytest.skip("needs MariaDB")
    tag = connection.settings_dict["NAME"].removeprefix("test_").removeprefix("beils_")
    name = f"legacy_{tag}_{uuid.uuid4().hex[:8]}"
    mariadb(None, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        yield LegacyDatabase(name)
    finally:
        mariadb(None, f"DROP DATABASE IF EXISTS `{name}`")
