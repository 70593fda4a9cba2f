"""Test relaxations, and nothing else: the suite runs against the same settings as production."""

import tempfile
from pathlib import Path

from beils.settings import *  # noqa: F403

# The suite reads Beils in English; tests of the Spanish catalogue activate "es" themselves.
LANGUAGE_CODE = "en-us"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Runtime files (the maintenance lock, the demo-admin file) and uploaded media private to this
# test run, so that two runs on one machine never take each other's lock or see each other's files.
VAR_DIR = Path(tempfile.mkdtemp(prefix="beils-test-var-"))
MEDIA_ROOT = VAR_DIR / "test-media"
# A fresh directory per run: manifests left by one run must not reach the next run's catalogue.
BACKUP_DIR = Path(tempfile.mkdtemp(prefix="beils-test-backups-"))
ERASURE_LEDGER_PATH = BACKUP_DIR / "erasure-ledger.jsonl"
if not env.str("CACHE_URL", default=""):  # noqa: F405
    CACHES = {"default": env.cache_url_config(f"filecache://{VAR_DIR / 'cache'}")}  # noqa: F405

# SQLite tests run on a file, not in memory, so that the backup engine can snapshot it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.mkdtemp(prefix="beils-test-db-")) / "test.sqlite3")}  # noqa: F405

# No collectstatic before a test run (Django runs tests with DEBUG off): static files by their own
# names, and WhiteNoise looks each one up when asked instead of indexing a STATIC_ROOT at start.
# tests/beils/test_serving.py runs collectstatic and gunicorn with the production storage.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_AUTOREFRESH = True
