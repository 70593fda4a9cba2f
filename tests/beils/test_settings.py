import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_a_real_secret_key():
    for key in ("", "django-insecure-beils-development-key-do-not-use-in-production", "short"):
        result = manage("check", DEBUG="false", SECRET_KEY=key, ALLOWED_HOSTS="salon.example.org")
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr


def test_deploy_check_reports_the_embedded_broker_and_sqlite():
    result = manage(
        "check", "--deploy", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="salon.example.org",
        DATABASE_URL="sqlite:///var/deploy-check.sqlite3", CELERY_BROKER_URL="filesystem://",
    )  # fmt: skip
    assert result.returncode != 0
    assert "beils.E001" in result.stderr and "beils.W002" in result.stderr


def test_deploy_check_is_clean_with_production_settings():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="salon.example.org", DATABASE_URL="mysql://beils:secret@127.0.0.1:3306/beils",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
