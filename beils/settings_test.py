"""Test relaxations, and nothing else: the suite runs against the same settings as production."""

from beils.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
BACKUP_DIR = VAR_DIR / "test-backups"  # noqa: F405
