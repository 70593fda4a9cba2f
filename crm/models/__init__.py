"""The crm app's models, one module per aggregate: staff accounts and API tokens
(``staff``), clients with their consents and questionnaires (``clients``)."""

from beils.lib.models import Status  # importable from here before the split (bookings/calendar.py)
from crm.models.clients import (
    DUPLICATE_KEY_MIN_LENGTH,
    DUPLICATE_KEYS,
    Client,
    ClientQuerySet,
    Consent,
    ConsentQuerySet,
    ConsentStatus,
    ConsentType,
    DocumentType,
    Gender,
    Questionnaire,
    Revoke,
    not_in_future,
)
from crm.models.errors import ClientHasHistory, CrmError
from crm.models.merges import ClientMergeRecord
from crm.models.staff import (
    LAST_ADMIN_MESSAGE,
    ActiveUserManager,
    ApiToken,
    ApiTokenManager,
    Language,
    Role,
    User,
    UserManager,
    UserQuerySet,
)

__all__ = [
    "DUPLICATE_KEYS", "DUPLICATE_KEY_MIN_LENGTH", "LAST_ADMIN_MESSAGE", "ActiveUserManager", "ApiToken",
    "ApiTokenManager", "Client", "ClientHasHistory", "ClientMergeRecord", "ClientQuerySet", "Consent", "ConsentQuerySet", "ConsentStatus",
    "ConsentType", "CrmError", "DocumentType", "Gender", "Language", "Questionnaire", "Revoke", "Role", "Status", "User",
    "UserManager", "UserQuerySet", "not_in_future",
]  # fmt: skip
