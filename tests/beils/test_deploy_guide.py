"""docs/deploy.md's MariaDB recipe works as printed: run as it is (only the names at its top are
replaced) with a throwaway database and account and a hostile password, the account it makes
connects with the DATABASE_URL it prints and can do what migrations and restores do."""

import re
import secrets
import shlex
import subprocess
from pathlib import Path

import environ
import pytest
from django.db import connection

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
PATH = "/usr/local/bin:/usr/bin:/bin"

pytestmark = pytest.mark.mariadb


def guide_block(name: str) -> str:
    match = re.search(rf"<!-- deploy-test: {name} -->\n```sh\n(.*?)\n```", GUIDE.read_text(), re.DOTALL)
    assert match, f"no block {name} in {GUIDE}"
    return match.group(1)


def server() -> dict:
    """How to reach MariaDB as its root: the suite's own server on MariaDB, else the local one."""
    if connection.vendor == "mysql":
        params = connection.get_connection_params()
        return {k: params[k] for k in ("user", "host", "port", "password") if params.get(k)}
    return {"user": "root", "host": "127.0.0.1", "port": 3306}


@pytest.fixture
def mariadb_root(tmp_path):
    """An environment in which ``mariadb`` logs in as root (as the guide's ``sudo -i`` would)."""
    params = server()
    home = tmp_path / "mysql-home"
    home.mkdir()
    (home / "my.cnf").write_text("[client]\n" + "".join(f"{key}={value}\n" for key, value in params.items()))
    env = {"PATH": PATH, "MYSQL_HOME": str(home), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    try:
        reachable = subprocess.run(["mariadb", "-e", "SELECT 1"], env=env, capture_output=True, timeout=10)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        reachable = None
    if reachable is None or reachable.returncode:
        pytest.skip("MariaDB is not reachable as root")
    return env, params


def sql(env: dict, statement: str) -> str:
    result = subprocess.run(["mariadb", "-N", "-B", "-e", statement], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def run_recipe(values: dict[str, str], env: dict) -> str:
    script = guide_block("mariadb")
    for variable, value in values.items():
        script, count = re.subn(rf"^{variable}=.*$", f"{variable}={shlex.quote(value)}", script, count=1, flags=re.M)
        assert count == 1, f"{variable}= is not set at the top of the recipe"
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_mariadb_recipe_makes_an_account_that_can_migrate_and_restore(mariadb_root):
    env, root = mariadb_root
    suffix = secrets.token_hex(4)
    name, user = f"beils_guide_{suffix}", f"beils_guide_{suffix}"
    password = f"p#ss 'w\"d\\ {suffix}"
    host = root.get("host", "localhost")
    client_host = "localhost" if host in ("", "localhost") or host.startswith("/") else host
    scratch = f"{name}_restore_{'2' * 20}"
    try:
        output = run_recipe(
            {"DB_NAME": name, "DB_USER": user, "DB_PASSWORD": password, "DB_CLIENT_HOST": client_host}, env
        )

        url = re.search(r"^DATABASE_URL=(\S+)$", output, re.M).group(1)
        settings = environ.Env.db_url_config(url)
        assert (settings["NAME"], settings["USER"], settings["PASSWORD"]) == (name, user, password)
        assert (
            sql(env, f"SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'")
            == "utf8mb4"
        )
        assert sql(env, "SELECT COUNT(*) FROM mysql.time_zone_name") != "0"

        MySQLdb = pytest.importorskip("MySQLdb")

        # Connected as the new account, the way Beils would with that URL (host and port aside).
        account = MySQLdb.connect(
            user=settings["USER"], password=settings["PASSWORD"], database=settings["NAME"],
            host=host or "localhost", port=int(root.get("port", 3306)),
        )  # fmt: skip
        cursor = account.cursor()
        # What migrate does: tables and the birth-date guard's trigger.
        cursor.execute("CREATE TABLE live_rows (id INT PRIMARY KEY, born DATE)")
        cursor.execute("CREATE TRIGGER guard BEFORE INSERT ON live_rows FOR EACH ROW SET NEW.born = NEW.born")
        # What a restore does: a scratch database beside the live one, its tables swapped in with
        # one RENAME TABLE (triggers set aside and made again, as MariaDBEngine.swap_in does), dropped.
        cursor.execute(f"CREATE DATABASE `{scratch}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cursor.execute(f"CREATE TABLE `{scratch}`.restored (id INT PRIMARY KEY, born DATE)")
        cursor.execute("DROP TRIGGER guard")
        cursor.execute(
            f"RENAME TABLE `{name}`.live_rows TO `{scratch}`.replaced, `{scratch}`.restored TO `{name}`.live_rows"
        )
        cursor.execute("CREATE TRIGGER guard BEFORE INSERT ON live_rows FOR EACH ROW SET NEW.born = NEW.born")
        cursor.execute(f"DROP DATABASE `{scratch}`")
        # And nothing wider: a database outside the patterns is refused.
        with pytest.raises(MySQLdb.OperationalError, match="denied"):
            cursor.execute(f"CREATE DATABASE `{name}x`")
        account.close()
    finally:
        for database in (scratch, name, f"{name}x"):
            sql(env, f"DROP DATABASE IF EXISTS `{database}`")
        sql(env, f"DROP USER IF EXISTS '{user}'@'{client_host}'")
