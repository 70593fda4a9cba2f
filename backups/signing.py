"""Signed manifests: a backup's manifest carries an HMAC-SHA-256 over its contents, so that a
file and its manifest edited together (checksums recomputed) are told apart from the real thing.

The key is BACKUP_SIGNING_KEY, or, when it is unset, a key derived from SECRET_KEY for this one
purpose (never SECRET_KEY itself, which signs sessions and password-reset links). Manifests are
signed with the current key only; BACKUP_SIGNING_KEYS_OLD (and keys derived from
SECRET_KEY_FALLBACKS) still verify older ones after a rotation, until ``manage.py signbackups``
has signed them again with the current key.
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

ALGORITHM = "hmac-sha256"
FIELD = "signature"
# Changing this string changes every derived key: it names the purpose, and is not a secret.
_PURPOSE = "beils.backups.manifest-signing"


class SignatureError(Exception):
    """A manifest is unsigned, or its signature matches none of the keys."""


def _derived(secret: str) -> bytes:
    return salted_hmac(_PURPOSE, "manifest signing key v1", secret=secret, algorithm="sha256").digest()


def current_key() -> bytes:
    if settings.BACKUP_SIGNING_KEY:
        return settings.BACKUP_SIGNING_KEY.encode()
    return _derived(settings.SECRET_KEY)


def verifying_keys() -> list[bytes]:
    """The current key first, then the retired ones still accepted."""
    keys = [current_key()]
    keys += [key.encode() for key in getattr(settings, "BACKUP_SIGNING_KEYS_OLD", []) if key]
    if not settings.BACKUP_SIGNING_KEY:
        keys += [_derived(secret) for secret in getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return keys


def _canonical(data: dict) -> bytes:
    unsigned = {key: value for key, value in data.items() if key != FIELD}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(key: bytes, data: dict) -> str:
    return hmac.new(key, _canonical(data), hashlib.sha256).hexdigest()


def sign(data: dict) -> dict:
    """``data`` with its signature (made with the current key) in ``data["signature"]``."""
    return {**data, FIELD: f"{ALGORITHM}:{_mac(current_key(), data)}"}


def verify(data: dict) -> int:
    """Check ``data``'s signature; return the index of the key that made it (0: the current one).
    Raises :class:`SignatureError` when it is missing or matches no key."""
    signature = data.get(FIELD)
    if not isinstance(signature, str) or not signature.startswith(f"{ALGORITHM}:"):
        raise SignatureError(_("it has no signature"))
    given = signature.split(":", 1)[1]
    matches = [hmac.compare_digest(given, _mac(key, data)) for key in verifying_keys()]
    if not any(matches):
        raise SignatureError(
            _("its signature does not match BACKUP_SIGNING_KEY (nor any key in BACKUP_SIGNING_KEYS_OLD)")
        )
    return matches.index(True)
