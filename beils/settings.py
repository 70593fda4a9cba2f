"""Beils settings: one module, driven by the environment (see ``.env.example``).

The defaults make a fresh checkout run on a bare machine (SQLite under ``var/`` and a Celery
broker that needs no server). Production is ``DEBUG=False`` and then refuses to start without
a real ``SECRET_KEY``; ``manage.py check --deploy`` reports the rest.
"""

import socket
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from beils.lib.private import private_dir

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


# Everything the running installation writes (SQLite database, embedded broker, media, backups).
def env_dir(name: str, default: Path) -> Path:
    """A directory from the environment; relative paths are relative to the project."""
    return BASE_DIR / env.str(name, default=str(default))


VAR_DIR = env_dir("VAR_DIR", BASE_DIR / "var")

# --- Django -------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=True)

DEV_SECRET_KEY = "django-insecure-beils-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY if DEBUG else "")
if not DEBUG and (not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters when DEBUG is off. "
        "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )
# Former keys, still accepted for sessions, password resets and old backup manifests while a
# rotation settles (docs/security.md, "Rotating keys").
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

# This machine's name in an installation of several: each backup records the host that wrote it,
# and a host never verifies, restores or prunes a file it cannot see (BACKUP_DIR is per machine,
# the catalogue is shared); the beat that sent a periodic job is noted. Set it where host names
# change (containers) so that the catalogue keeps naming the same machine.
BEILS_HOST = env.str("BEILS_HOST", default="") or socket.gethostname()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "beils.apps.BeilsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "health_check",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "simple_history",
    "axes",
    "csp",
    "audit",
    "crm",
    "catalog",
    "marketing",
    "sales",
    "bookings",
    "transfer",
    "backups",
    "maintenance",
    "demo",
    "legacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the WSGI server (gunicorn has no static handler), with far-future
    # caching for hashed names and gzip/Brotli variants; before everything that touches sessions.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in user's language, else the language cookie, else the salon's LANGUAGE_CODE
    # (never the browser's Accept-Language: a salon's shared computer speaks the salon's language).
    "crm.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy on every response, with a fresh nonce for inline scripts/styles.
    "csp.middleware.CSPMiddleware",
    # Records the acting user on every historical row (django-simple-history).
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "beils.urls"
WSGI_APPLICATION = "beils.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
            "libraries": {"beils_admin": "beils.lib.admin_tags"},
        },
    },
]

AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username + IP before the password is even checked.
    "crm.auth.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# --- Language -----------------------------------------------------------------------------
# The salon's language (Spanish unless LANGUAGE_CODE says otherwise); each user may choose another
# on their account (crm.middleware.UserLanguageMiddleware). Every string of Beils is in the
# catalogues under each app's locale/ and ./locale (templates shared by several apps).
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="es")
LANGUAGES = [("es", "Español"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Madrid")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_dir("STATIC_ROOT", VAR_DIR / "static")
# Beils' own static files (its icon): beils/ is wiring, not an app the app-directories finder reads.
STATICFILES_DIRS = [BASE_DIR / "beils" / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env_dir("MEDIA_ROOT", VAR_DIR / "media")

# --- Files --------------------------------------------------------------------------------
# Uploaded and generated files (signed consent documents, product images, import and export job
# files) live in STORAGES["default"]: MEDIA_ROOT on this machine by default, or, when
# MEDIA_S3_BUCKET is set, a private bucket on S3-compatible storage (MinIO, Ceph, AWS…) that every
# web node and worker shares. Its credentials come from the environment as boto3 reads them
# (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), never from a file in the project.
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", default="")
MEDIA_S3_ENDPOINT_URL = env.str("MEDIA_S3_ENDPOINT_URL", default="")
if MEDIA_S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": MEDIA_S3_ENDPOINT_URL or None,
            "region_name": env.str("MEDIA_S3_REGION", default="") or None,
            "location": env.str("MEDIA_S3_PREFIX", default="media"),
            # MinIO and most S3-compatible servers want bucket names in the path, not the host.
            "addressing_style": "path" if MEDIA_S3_ENDPOINT_URL else None,
            # Private objects; a link in the admin is signed and lives five minutes.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}  # in MEDIA_ROOT
STORAGES = {
    "default": _default_storage,
    # In production, `collectstatic` writes each file under a name with its content's hash and a
    # compressed copy beside it, and WhiteNoise serves them with a year-long Cache-Control; while
    # DEBUG is on, files are served as they are, from the apps, with no collectstatic.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Uploads (signed consent documents) and job files (imports, exports) are personal data: readable
# by the account running Beils alone, whatever the process umask.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Database -----------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'beils.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] != ":memory:" and not Path(_db["NAME"]).is_absolute():
        _db["NAME"] = str(BASE_DIR / _db["NAME"])
    # The web process, the worker and beat share one file: wait for locks instead of failing,
    # and take the write lock at BEGIN so two writers never deadlock on an upgrade.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
elif _db["ENGINE"] in ("django.db.backends.mysql",):
    _db.setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            # Strict mode: MariaDB rejects truncated strings and bad dates instead of warning.
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION,"
            "ERROR_FOR_DIVISION_BY_ZERO', innodb_strict_mode=1",
        }
    )
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)

# --- Cache --------------------------------------------------------------------------------

# Shared by every process of the installation (import/export progress, for one). The default, a
# private directory under var/, serves the web process and worker of one machine; several
# machines share Redis (CACHE_URL=redis://host:6379/1).
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
# The sales reports page is computed at most this often (seconds) and says when it was; 0 computes
# it on every load.
SALES_REPORT_CACHE_SECONDS = env.int("SALES_REPORT_CACHE_SECONDS", default=300)

# --- Celery -------------------------------------------------------------------------------

# With no broker configured, Celery uses kombu's filesystem transport under var/celery: the
# worker and beat of `make run` talk through files, so no server is needed.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_EMBEDDED = CELERY_BROKER_URL.startswith("filesystem://")
if CELERY_BROKER_EMBEDDED:
    _celery_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "control_folder": str(_celery_dir / "control"),
        "processed_folder": str(_celery_dir / "processed"),
        "store_processed": False,
    }
    # Private like every file Beils writes under var/ (docs/security.md): tasks carry ids.
    private_dir(_celery_dir)
    for _key in ("data_folder_in", "control_folder", "processed_folder"):
        private_dir(CELERY_BROKER_TRANSPORT_OPTIONS[_key])
else:
    # Long maintenance tasks must finish well within the time a Redis broker waits before it
    # hands an unacknowledged task to another worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 5 * 3600
CELERY_TASK_SOFT_TIME_LIMIT = 5 * 3600 - 300
CELERY_TIMEZONE = TIME_ZONE
# django-celery-beat's scheduler (schedules edited in the admin) that sends each job once per slot
# even when two beats run (maintenance/beat.py).
CELERY_BEAT_SCHEDULER = "maintenance.beat:OncePerSlotScheduler"
# Operations that read or write BACKUP_DIR (backups, verification, restore tests, pruning, archive,
# cleanup, alerts, the stale-work check) go to the "maintenance" queue, consumed by the one ops
# worker on the machine that holds BACKUP_DIR (Procfile.production); imports, exports and the rest
# go to the default queue, consumed by any worker. `make run`'s single worker consumes both.
CELERY_TASK_DEFAULT_QUEUE = "celery"
MAINTENANCE_QUEUE = "maintenance"
CELERY_TASK_ROUTES = {
    "maintenance.run_job": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "maintenance.*": {"queue": MAINTENANCE_QUEUE},
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- API ------------------------------------------------------------------------------------

# The deepest nesting of arrays and objects a JSON request body may have.
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "beils.lib.api.BearerTokenAuthentication",  # first: unauthenticated calls get 401, not 403
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["beils.lib.api.RoleModelPermissions"],
    # JSON nested deeper than API_MAX_JSON_DEPTH is a 400 (Python's parser would fail with a 500).
    "DEFAULT_PARSER_CLASSES": [
        "beils.lib.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # PROTECT/RESTRICT refusals answer 409, domain refusals 400.
    "EXCEPTION_HANDLER": "beils.lib.api.exception_handler",
}
# API tokens (django-rest-knox, model crm.ApiToken): only a SHA-512 digest is stored; a token
# expires after API_TOKEN_TTL_HOURS and goes when its person is deactivated or changes role.
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", default=720)
KNOX_TOKEN_MODEL = "crm.ApiToken"  # noqa: S105 (a model name)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=API_TOKEN_TTL_HOURS),
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_MODEL": KNOX_TOKEN_MODEL,
    # The expiry is fixed when the token is issued: a stolen token does not live on by being used.
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Beils API",
    "DESCRIPTION": "The salon's back office. Authenticate with `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Clients ------------------------------------------------------------------------------
# An ADMIN may undo a client merge for this many days after it (crm.unmerge); later, the merge
# stands (a person corrects it by hand) and its record keeps ids only. 0 turns the undo off.
MERGE_UNDO_DAYS = env.int("MERGE_UNDO_DAYS", default=30)

# --- Backups ------------------------------------------------------------------------------

BACKUP_DIR = env_dir("BACKUP_DIR", VAR_DIR / "backups")
BACKUP_ENCRYPTION_KEY = env.str("BACKUP_ENCRYPTION_KEY", default="")
BACKUP_ENCRYPTION_KEY_FILE = env.str("BACKUP_ENCRYPTION_KEY_FILE", default="")
BACKUP_S3_BUCKET = env.str("BACKUP_S3_BUCKET", default="")
BACKUP_S3_ENDPOINT_URL = env.str("BACKUP_S3_ENDPOINT_URL", default="")
BACKUP_S3_PREFIX = env.str("BACKUP_S3_PREFIX", default="beils/")
# A second copy of every backup in another directory (ideally another drive).
BACKUP_COPY_DIR = env.str("BACKUP_COPY_DIR", default="")
# HMAC key that signs every backup manifest; unset = a key derived from SECRET_KEY for this
# purpose alone. After a rotation, list the retired keys (comma-separated) so older manifests
# still verify, and run manage.py signbackups to sign them again with the new key.
BACKUP_SIGNING_KEY = env.str("BACKUP_SIGNING_KEY", default="")
BACKUP_SIGNING_KEYS_OLD = env.list("BACKUP_SIGNING_KEYS_OLD", default=[])
# gzip level for pigz: 1 is fastest, 9 smallest. 5 is within 1 % of gzip -6's size for half its
# CPU; 3 and 4 are 13 % and 7 % larger (docs/benchmarks.md).
BACKUP_COMPRESSION_LEVEL = env.int("BACKUP_COMPRESSION_LEVEL", default=6)
# A MariaDB restore loads this many tables at once, each on its own connection (1: the whole
# dump on one connection, as ``gunzip | mariadb`` does); see docs/benchmarks.md.
BACKUP_RESTORE_WORKERS = env.int("BACKUP_RESTORE_WORKERS", default=3)
BACKUP_MIN_FREE_BYTES = env.int("BACKUP_MIN_FREE_BYTES", default=50 * 2**20)
BACKUP_BEFORE_MIGRATE = env.bool("BACKUP_BEFORE_MIGRATE", default=True)
# Recovery point objective: the newest good backup must be younger than this.
BACKUP_RPO_HOURS = env.int("BACKUP_RPO_HOURS", default=26)
# GDPR erasures (client ids only), replayed after every restore: outside the database, beside the
# backups by default so that it travels with them. Copy it off-site with them.
ERASURE_LEDGER_PATH = env_dir("ERASURE_LEDGER_PATH", BACKUP_DIR / "erasure-ledger.jsonl")
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY = env.int("BACKUP_KEEP_WEEKLY", default=4)
BACKUP_KEEP_MONTHLY = env.int("BACKUP_KEEP_MONTHLY", default=12)
# Empty = keep one backup of every year forever.
BACKUP_KEEP_YEARLY = env.int("BACKUP_KEEP_YEARLY", default=None)
# Partial backups, safety copies and pre-migration backups: kept this many days, then pruned.
BACKUP_KEEP_SPECIAL_DAYS = env.int("BACKUP_KEEP_SPECIAL_DAYS", default=30)
# Recovery time objective: a restore drill (manage.py restoredrill) must finish within this.
# The guide's tiers are 1 h, 4 h and 24 h; the dashboard shows which one the last drill meets.
BACKUP_RTO_HOURS = env.int("BACKUP_RTO_HOURS", default=1)
# Record the binary log position of each backup's snapshot in its manifest, for point-in-time
# recovery with mariadb-binlog (needs log_bin on the server and the RELOAD privilege).
BACKUP_BINLOG_POSITION = env.bool("BACKUP_BINLOG_POSITION", default=False)

# --- Monitoring and alerts (maintenance/alerts.py) ------------------------------------------

# An alert is raised (mailed to ADMINS and the ADMIN users, shown in the admin) below this share
# of free disk; raise it to 100 to simulate a full disk.
ALERT_DISK_FREE_PERCENT = env.int("ALERT_DISK_FREE_PERCENT", default=20)
ALERT_RESTORE_TEST_DAYS = env.int("ALERT_RESTORE_TEST_DAYS", default=8)
# The Celery workers this machine runs, checked by /health/live ("%h" is this machine's host name,
# as in `celery worker -n worker@%h`). Empty: this node runs none of its own.
HEALTH_WORKERS = env.list("HEALTH_WORKERS", default=[])
# A table grows abnormally when it gains more than this share of its rows within a day, and at
# least ALERT_TABLE_GROWTH_MIN_ROWS rows (small tables double all the time).
ALERT_TABLE_GROWTH_PERCENT = env.int("ALERT_TABLE_GROWTH_PERCENT", default=100)
ALERT_TABLE_GROWTH_MIN_ROWS = env.int("ALERT_TABLE_GROWTH_MIN_ROWS", default=10000)
# An alert still open after this long is mailed again (0: only once).
ALERT_REMIND_HOURS = env.int("ALERT_REMIND_HOURS", default=24)
# The monthly optimise (off by default; switch "Monthly optimise" on in Periodic tasks) rebuilds
# the tables with at least this much free space inside them, the most fragmented first.
OPTIMISE_MIN_FREE_BYTES = env.int("OPTIMISE_MIN_FREE_BYTES", default=16 * 2**20)
OPTIMISE_MAX_TABLES = env.int("OPTIMISE_MAX_TABLES", default=5)

# Stranded work (maintenance/reaper.py): a backup or import/export job still RUNNING whose last
# sign of life is older than this many minutes was killed; it is marked failed, its temporary
# files removed, and the admins told. Running work writes its sign of life every
# WORK_HEARTBEAT_SECONDS (not more often: it must not slow the work down).
STALE_WORK_MINUTES = env.float("STALE_WORK_MINUTES", default=15)
WORK_HEARTBEAT_SECONDS = env.float("WORK_HEARTBEAT_SECONDS", default=30)

# --- Import / export -------------------------------------------------------------------------

# A file with one invalid row writes nothing: every import runs in one transaction.
IMPORT_EXPORT_USE_TRANSACTIONS = True
# Larger files are refused with a message that says so (split them); files over 1 MB are checked
# and imported by a Celery worker with a progress bar in the admin.
IMPORT_MAX_MB = env.int("IMPORT_MAX_MB", default=50)
# Rows, counted before the file is parsed: a small compressed XLSX can hold millions of rows and
# tie up a worker for minutes (a "decompression bomb"); such a file is refused, nothing written.
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=1_000_000)
# What an XLSX may expand to, by the sizes its zip archive declares (a real spreadsheet expands
# five to ten times; a bomb, a thousand).
IMPORT_MAX_EXPANDED_MB = env.int("IMPORT_MAX_EXPANDED_MB", default=10 * IMPORT_MAX_MB)
# The uploaded file waits between the dry run and the confirmation in media storage, which every
# web process shares (a temp directory is per machine; the default cache is per process).
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"
# Off on purpose: the library's version deletes a leading "=", which corrupts data. Beils escapes
# formulas itself, reversibly, in transfer/resources/base.py.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False

# --- Cleanup --------------------------------------------------------------------------------

# `cleanup --test-data` removes rows made by `seed` and rows that look like tests: clients and
# users with an e-mail at one of these domains, products whose SKU starts with one of these.
CLEANUP_TEST_EMAIL_DOMAINS = env.list(
    "CLEANUP_TEST_EMAIL_DOMAINS", default=["test.com", "example.com", "example.org", "example.net", "test.local"]
)
CLEANUP_TEST_SKU_PREFIXES = env.list("CLEANUP_TEST_SKU_PREFIXES", default=["TEST"])
# Deactivated rows ("the trash") older than this are deleted for good, where nothing protects them.
TRASH_PURGE_DAYS = env.int("TRASH_PURGE_DAYS", default=365)
# Sales moved to the archive per transaction: smaller holds locks for less time.
ARCHIVE_BATCH_SIZE = env.int("ARCHIVE_BATCH_SIZE", default=1000)
# Forgetting on time (maintenance/forget.py): clients with no visit, purchase or debt for this many
# years are listed for review and erased by an ADMIN. Unset: the policy has no default period and
# is off. The admin's retention policy "clients-forget" wins: its days, when filled in, replace
# this; its "enabled" box is the switch (ticked at installation when this is set).
RETENTION_FORGET_YEARS = env.int("RETENTION_FORGET_YEARS", default=None)

# --- The salon ----------------------------------------------------------------------------

SALON_NAME = env.str("SALON_NAME", default="Beils Demo Salon")
SALON_TAX_ID = env.str("SALON_TAX_ID", default="B00000000")
INVOICE_SERIES = env.str("INVOICE_SERIES", default="F")
# Where the QR code printed on every invoice sends the customer to check it at the tax office
# (AEAT). Beils keeps the invoices' hash chain but does not send the records to the AEAT itself,
# which makes it a "NO VERI*FACTU" system in the Orden HAC/1177/2024's terms: its invoices carry
# this address. A salon that sends its records through another program sets the VERI*FACTU one
# (https://www2.agenciatributaria.gob.es/wlpl/TIKE-CONT/ValidarQR).
VERIFACTU_QR_URL = env.str(
    "VERIFACTU_QR_URL", default="https://www2.agenciatributaria.gob.es/wlpl/TIKE-CONT/ValidarQRNoVerifactu"
)
# E-mail last month's register of issued invoices (CSV, XLSX and the Veri*Factu records as JSON)
# to every active ADMIN on the 1st of each month (sales/register.py). Off by default; switching
# on the "Monthly invoice register" periodic task in the admin does the same.
INVOICE_REGISTER_EMAIL = env.bool("INVOICE_REGISTER_EMAIL", default=False)

# --- E-mail -------------------------------------------------------------------------------

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="beils@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [("Beils admin", email) for email in env.list("ADMINS_EMAILS", default=[])]

# --- Security -----------------------------------------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp). Everything from our own origin: Chart.js and Swagger UI
# are served from our static files, never a CDN. An inline <script> or <style> runs only with the
# response's nonce (templates write nonce="{{ request.csp_nonce }}"), so injected markup cannot
# run script. style="" attributes stay allowed (style-src-attr): the bookings calendar places
# each booking with one, and Django's own admin widgets use them; they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        # data: for the SVG icons inside the admin's and Swagger UI's stylesheets.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Login throttling (django-axes) -------------------------------------------------------

# After this many wrong passwords for one e-mail from one IP address, that pair is locked out
# for AXES_COOLOFF_MINUTES (each refused attempt is audited as crm.login.locked_out). Locking the
# pair, not the account, means an attacker cannot lock a colleague out from elsewhere.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# One row per failed attempt in the admin ("Access failures"), besides the per-pair counters.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# The admin's login form posts the e-mail as "username".
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# The client address (beils/lib/net.py): REMOTE_ADDR unless AXES_PROXY_COUNT declares the reverse
# proxies in front (1 behind nginx); then the address the nearest proxy appended to
# X-Forwarded-For. Trusting the header without a proxy would let an attacker pick a new "IP" for
# every attempt; ignoring it behind one would lock a person out for everybody.
TRUSTED_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "beils.lib.net.client_ip"

# --- Logging ------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes announces its configuration at INFO on every start, in every command's output.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
