"""What each role gets, as one table per surface: every API resource and every admin page or
sensitive act, for ADMIN, MANAGER, STAFF, the outsider (a switched-off account) and an anonymous
caller. Each row reads: the request, then the HTTP status each of them receives.

Writes are sent with an empty body where that is enough to tell the roles apart: a role that may
write gets past the permission check and is told what is missing (400); one that may not is
refused (403) before anything is read. Nothing here relies on a superuser: every permission comes
from crm/roles.py.
"""

import pytest
from django.test import Client as Browser
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from audit.models import AuditEntry
from backups.models import Backup
from bookings.models import Booking
from catalog.models import Product
from crm.models import Client, User
from marketing.models import ClientBonus, GiftCard, GiftCardMovement
from sales.models import Cart, Debt, Invoice, Payment
from tests import factories as f
from tests.helpers import admin_url, api_as

pytestmark = pytest.mark.django_db

WHO = ["admin", "manager", "staff", "outsider", "anonymous"]
PERSONA = {"admin": "admin_user", "manager": "manager_user", "staff": "staff_user", "outsider": "outsider"}


@pytest.fixture
def things(db):
    """One row of each kind the table's URLs point at."""
    return {
        "user": f.UserFactory(),
        "client": f.ClientFactory(),
        "product": f.ProductFactory(),
        "debt": f.DebtFactory(),
        "giftcard": f.GiftCardFactory(),
        "clientbonus": f.ClientBonusFactory(),
        "booking": f.BookingFactory(),
        "invoice": f.InvoiceFactory(),
        "task": f.PeriodicTaskFactory(),
    }


# (method, path, body) → ADMIN, MANAGER, STAFF, outsider, anonymous.
# 401: not authenticated (an outsider's token stops working with the account).
API = [
    # Staff accounts: everyone sees the team, only ADMIN manages it.
    ("GET", "/api/users", None, 200, 200, 200, 401, 401),
    ("POST", "/api/users", {}, 400, 403, 403, 401, 401),
    ("PATCH", "/api/users/{user}", {}, 200, 403, 403, 401, 401),
    ("DELETE", "/api/users/{user}", None, 204, 403, 403, 401, 401),
    ("GET", "/api/users/export?format=json", None, 200, 200, 403, 401, 401),
    # Clients: daily work for everyone; hard delete and erasure ADMIN; GDPR export not STAFF.
    ("GET", "/api/clients", None, 200, 200, 200, 401, 401),
    ("POST", "/api/clients", {}, 400, 400, 400, 401, 401),
    ("PATCH", "/api/clients/{client}", {}, 200, 200, 200, 401, 401),
    ("DELETE", "/api/clients/{client}", None, 204, 204, 204, 401, 401),
    ("DELETE", "/api/clients/{client}?hard=1", None, 204, 403, 403, 401, 401),
    ("GET", "/api/clients/{client}/gdpr-export", None, 200, 200, 403, 401, 401),
    ("POST", "/api/clients/{client}/erase", {}, 400, 403, 403, 401, 401),
    ("GET", "/api/clients/export?format=csv", None, 200, 200, 403, 401, 401),
    # Catalogue: everyone reads, MANAGER and ADMIN edit.
    ("GET", "/api/catalog/products", None, 200, 200, 200, 401, 401),
    ("POST", "/api/catalog/products", {}, 400, 400, 403, 401, 401),
    ("DELETE", "/api/catalog/products/{product}", None, 204, 204, 403, 401, 401),
    ("GET", "/api/catalog/products/export?format=json", None, 200, 200, 403, 401, 401),
    # Marketing: coupons and comps are MANAGER's; a bono held by a client is granted by ADMIN only
    # (everyone else sells it at checkout).
    ("GET", "/api/marketing/coupons", None, 200, 200, 200, 401, 401),
    ("POST", "/api/marketing/coupons", {}, 400, 400, 403, 401, 401),
    ("GET", "/api/marketing/gift-cards", None, 200, 200, 200, 401, 401),
    ("POST", "/api/marketing/gift-cards", {}, 400, 400, 403, 401, 401),
    ("PATCH", "/api/marketing/gift-cards/{giftcard}", {}, 200, 200, 403, 401, 401),
    ("POST", "/api/marketing/client-bonuses", {}, 400, 403, 403, 401, 401),
    ("PATCH", "/api/marketing/client-bonuses/{clientbonus}", {}, 200, 200, 403, 401, 401),
    # Sales: everyone sells; debts come only from credit sales and go only with payments.
    ("GET", "/api/sales/carts", None, 200, 200, 200, 401, 401),
    ("POST", "/api/sales/carts/checkout", {}, 400, 400, 400, 401, 401),
    ("GET", "/api/sales/debts", None, 200, 200, 200, 401, 401),
    ("POST", "/api/sales/debts", {}, 405, 403, 403, 401, 401),
    ("PATCH", "/api/sales/debts/{debt}", {}, 200, 200, 403, 401, 401),
    ("DELETE", "/api/sales/debts/{debt}", None, 405, 403, 403, 401, 401),
    ("POST", "/api/sales/debts/{debt}/pay", {}, 400, 400, 400, 401, 401),
    ("GET", "/api/sales/invoices", None, 200, 200, 200, 401, 401),
    ("GET", "/api/sales/carts/export?format=json", None, 200, 200, 403, 401, 401),
    # Bookings: daily work.
    ("GET", "/api/bookings", None, 200, 200, 200, 401, 401),
    # Maintenance: MANAGER looks at backups, only ADMIN starts one.
    ("GET", "/api/maintenance/backups", None, 200, 200, 403, 401, 401),
    ("POST", "/api/maintenance/backups", {}, 202, 403, 403, 401, 401),
]


def _caller(request, who):
    if who == "anonymous":
        from rest_framework.test import APIClient

        return APIClient()
    return api_as(request.getfixturevalue(PERSONA[who]))


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    "method, path, body, expected", [(m, p, b, dict(zip(WHO, s, strict=True))) for m, p, b, *s in API],
    ids=[f"{m} {p}" for m, p, *_ in API],
)  # fmt: skip
def test_each_role_gets_the_api_status_of_the_matrix(request, things, who, method, path, body, expected):
    url = path.format(**{name: obj.pk for name, obj in things.items()})
    response = getattr(_caller(request, who), method.lower())(url, body, format="json")
    assert response.status_code == expected[who], getattr(response, "data", response.content[:300])


# (model, view, key of the object or None, extra) → ADMIN, MANAGER, STAFF, outsider, anonymous.
# 302: sent to the login page. Page views are GETs; ("post", ...) rows are sensitive acts.
ADMIN = [
    (User, "changelist", None, 200, 200, 200, 302, 302),
    (User, "add", None, 200, 403, 403, 302, 302),
    (User, "change", "user", 200, 200, 200, 302, 302),  # view-only below ADMIN: no save button
    (User, "delete", "user", 200, 403, 403, 302, 302),
    (Client, "changelist", None, 200, 200, 200, 302, 302),
    (Client, "add", None, 200, 200, 200, 302, 302),
    (Client, "delete", "client", 200, 403, 403, 302, 302),
    (Client, "export", None, 200, 200, 403, 302, 302),
    (Client, "import", None, 200, 403, 403, 302, 302),
    (Product, "changelist", None, 200, 200, 200, 302, 302),
    (Product, "add", None, 200, 200, 403, 302, 302),
    (Product, "change", "product", 200, 200, 200, 302, 302),  # view-only for STAFF
    (Product, "delete", "product", 200, 200, 403, 302, 302),
    (Booking, "add", None, 200, 200, 200, 302, 302),
    (Booking, "change", "booking", 200, 200, 200, 302, 302),
    (Booking, "delete", "booking", 200, 200, 403, 302, 302),
    (Cart, "changelist", None, 200, 200, 200, 302, 302),
    (Cart, "add", None, 200, 200, 200, 302, 302),
    (Payment, "add", None, 200, 403, 403, 302, 302),
    (Debt, "changelist", None, 200, 200, 200, 302, 302),
    (Debt, "add", None, 403, 403, 403, 302, 302),
    (Debt, "delete", "debt", 403, 403, 403, 302, 302),
    (Debt, "import", None, 403, 403, 403, 302, 302),
    (Invoice, "changelist", None, 200, 200, 200, 302, 302),
    (Invoice, "change", "invoice", 200, 200, 200, 302, 302),
    (Invoice, "add", None, 403, 403, 403, 302, 302),
    (GiftCard, "changelist", None, 200, 200, 200, 302, 302),
    (GiftCard, "add", None, 200, 200, 403, 302, 302),
    (GiftCardMovement, "add", None, 403, 403, 403, 302, 302),
    (ClientBonus, "add", None, 200, 403, 403, 302, 302),
    (AuditEntry, "changelist", None, 200, 200, 403, 302, 302),
    (Backup, "changelist", None, 200, 200, 403, 302, 302),
    (PeriodicTask, "changelist", None, 200, 200, 403, 302, 302),
    (PeriodicTask, "add", None, 200, 403, 403, 302, 302),
    (PeriodicTask, "change", "task", 200, 200, 403, 302, 302),
]

SENSITIVE_POSTS = [
    # Starting a backup from the admin: ADMIN only.
    ("admin:backups_backup_run", {}, 302, 403, 403, 302, 302),
]


def _browser(request, who):
    browser = Browser()
    if who != "anonymous":
        # force_login even for the outsider: a session that exists must still be turned away.
        browser.force_login(request.getfixturevalue(PERSONA[who]))
    return browser


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    "model, view, key, expected", [(m, v, k, dict(zip(WHO, s, strict=True))) for m, v, k, *s in ADMIN],
    ids=[f"{m._meta.label} {v}" for m, v, *_ in ADMIN],
)  # fmt: skip
def test_each_role_gets_the_admin_status_of_the_matrix(request, things, who, model, view, key, expected):
    url = admin_url(model, view, *([things[key].pk] if key else []))
    assert _browser(request, who).get(url).status_code == expected[who]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    "name, data, expected", [(n, d, dict(zip(WHO, s, strict=True))) for n, d, *s in SENSITIVE_POSTS],
    ids=[n for n, *_ in SENSITIVE_POSTS],
)  # fmt: skip
def test_each_role_gets_the_status_of_the_matrix_for_sensitive_acts(request, who, name, data, expected):
    assert _browser(request, who).post(reverse(name), data).status_code == expected[who]
