"""Every screen of the admin as a Spanish salon reads it: in Spanish (none of the English phrases
that Beils' catalogues translate shows through) and with money as money (never a float)."""

import html
import re
from functools import cache

import polib
import pytest
from django.test import RequestFactory

from tests.beils.test_translations import CATALOGUES
from tests.helpers import admin_url
from tests.test_admin import FACTORIES, MODELS, REGISTRY, label

pytestmark = pytest.mark.django_db

# 59.9000000000000, 806,200000000000 €: a sum printed unrounded (SQLite's REAL arithmetic gives
# twelve decimals or more), or any amount with more than two decimals before the euro sign. A
# coordinate (40.416775) or a time's microseconds stay below seven decimals.
FLOAT_MONEY = re.compile(r"\d[.,]\d{7,}(?!\d)|\d[.,]\d{3,}\s*€")
TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S)


@cache
def english_phrases() -> frozenset[str]:
    """Phrases of three words or more that the catalogues translate to something else: seeing one
    on a Spanish page means a string escaped translation (translated once at import time, say)."""
    phrases = set()
    for po in (po for po in CATALOGUES if po.exists()):
        for entry in polib.pofile(str(po)).translated_entries():
            plain = "%" not in entry.msgid and "{" not in entry.msgid
            if plain and len(entry.msgid.split()) >= 3 and entry.msgstr not in ("", entry.msgid):
                phrases.add(entry.msgid)
    return frozenset(phrases)


def visible_text(response) -> str:
    return html.unescape(TAGS.sub(" ", response.content.decode()))


def assert_reads_as_spanish(response, where):
    assert response.status_code == 200, where
    assert response["Content-Language"] == "es", where
    text = visible_text(response)
    assert not FLOAT_MONEY.findall(text), f"{where}: float-looking numbers {FLOAT_MONEY.findall(text)[:5]}"
    leaked = sorted(phrase for phrase in english_phrases() if phrase in text)
    assert not leaked, f"{where}: English left on the Spanish page: {leaked[:10]}"


@pytest.fixture
def spanish_admin(admin_user, admin_browser):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    return admin_browser


@pytest.mark.parametrize("model", MODELS, ids=label)
def test_every_screen_reads_as_spanish(model, admin_user, spanish_admin):
    obj = FACTORIES[label(model)]()
    assert_reads_as_spanish(spanish_admin.get(admin_url(model, "changelist")), "changelist")
    assert_reads_as_spanish(spanish_admin.get(admin_url(model, "change", obj.pk)), "change")
    request = RequestFactory().get("/")
    request.user = admin_user
    if REGISTRY[model].has_add_permission(request):
        assert_reads_as_spanish(spanish_admin.get(admin_url(model, "add")), "add")


def test_the_dashboard_reads_as_spanish(spanish_admin):
    FACTORIES["sales.Cart"]()
    assert_reads_as_spanish(spanish_admin.get("/admin/"), "dashboard")


def test_a_new_salon_speaks_spanish_and_a_user_may_choose_english(client, admin_user, settings):
    settings.LANGUAGE_CODE = "es"
    client.force_login(admin_user)
    assert client.get("/admin/")["Content-Language"] == "es"
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.language == "en"
    assert client.get("/admin/")["Content-Language"] == "en"
    # The choice follows the user, not the browser: a fresh session on another computer.
    client.cookies.clear()
    client.force_login(admin_user)
    assert client.get("/admin/", HTTP_ACCEPT_LANGUAGE="es")["Content-Language"] == "en"


def test_an_unknown_language_is_refused(client, admin_user):
    client.force_login(admin_user)
    assert client.post("/i18n/setlang/", {"language": "xx"}).status_code == 400
    admin_user.refresh_from_db()
    assert admin_user.language == ""


def test_the_api_answers_a_token_s_user_in_their_language(staff_user):
    from tests.helpers import api_as

    staff_user.language = "es"
    staff_user.save(update_fields=["language"])
    response = api_as(staff_user).post("/api/sales/carts/checkout", {"lines": []}, format="json")
    assert response.status_code == 400 and response["Content-Language"] == "es"
    assert "al menos una línea" in str(response.json())
