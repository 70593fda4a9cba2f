"""Every audit action Beils records has words (audit/actions.py), and the trail's admin shows the
words, with the code kept beside them, in its list, its filter and its detail page.

The codes are collected from the source: every string literal shaped like an action code
(``<app>.<thing>.<verb>``, wherever it is written: an ``audit_log`` call, a constant, an argument
passed on), and every f-string given as ``action=`` to ``audit_log``, expanded by the rule that
builds it (``DYNAMIC`` below). A new f-string-built code fails here until it is taught."""

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.utils import translation

from audit.actions import ACTIONS, action_label
from tests.factories import AuditEntryFactory
from tests.helpers import admin_url

BASE = Path(settings.BASE_DIR)
APPS = ["audit", "crm", "catalog", "marketing", "sales", "bookings", "transfer", "backups", "maintenance", "demo",
        "legacy"]  # fmt: skip
CODE = re.compile(r"(?:{})\.[a-z_]+\.[a-z_]+".format("|".join(APPS)))


def _sources():
    for app in APPS:
        for path in sorted((BASE / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text(encoding="utf-8"))


def _is_python_path(value: str) -> bool:
    """``crm.erasure.replay_after_restore`` (a receiver's dotted path), not an action."""
    module, _dot, _name = value.rpartition(".")
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _call_name(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


def _shape(node: ast.JoinedStr) -> str:
    return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)


@cache
def scanned() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(literal codes, f-string shapes given to audit_log, report_failure's operations), each
    with where it was found."""
    literals, shapes, operations = {}, {}, []
    for path, tree in _sources():
        where = str(path.relative_to(BASE))
        for node in ast.walk(tree):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and CODE.fullmatch(node.value) and not _is_python_path(node.value):
                literals.setdefault(node.value, f"{where}:{node.lineno}")
            if not isinstance(node, ast.Call):
                continue
            if _call_name(node) == "audit_log":
                for keyword in node.keywords:
                    if keyword.arg == "action" and isinstance(keyword.value, ast.JoinedStr):
                        shapes.setdefault(_shape(keyword.value), f"{where}:{node.lineno}")
            if _call_name(node) == "report_failure" and node.args and isinstance(node.args[0], ast.Constant):
                operations.append(node.args[0].value)
    return literals, shapes, sorted(set(operations))


def _dynamic() -> dict[str, list[str]]:
    """The codes each f-string can build, from the rule that builds it."""
    from bookings.models import BookingStatus
    from maintenance.models import LifecycleKind
    from sales.admin import AdminRoleOnlyWrites
    from transfer.models import JobKind

    lifecycle = [f"maintenance.{kind.lower()}" for kind in LifecycleKind.values]
    by_hand = [
        f"{model._meta.app_label}.{model._meta.model_name}.{verb}_by_hand"
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, AdminRoleOnlyWrites)
        for verb in ("added", "changed", "deleted")
    ]
    return {
        "bookings.booking.{}": [f"bookings.booking.{status.lower()}" for status in BookingStatus.values],
        "maintenance.backup.{}_failed": [f"maintenance.backup.{op}_failed" for op in scanned()[2]],
        "maintenance.{}.failed": [f"maintenance.{kind.lower()}.failed" for kind in JobKind.values],
        "maintenance.{}.reaped": [f"maintenance.{kind.lower()}.reaped" for kind in JobKind.values],
        "{}.done": [f"{prefix}.done" for prefix in lifecycle],
        "{}.failed": [f"{prefix}.failed" for prefix in lifecycle],
        "{}.{}.{}_by_hand": by_hand,
    }


def test_the_scan_finds_the_codes_it_should():
    literals, shapes, operations = scanned()
    assert {"crm.client.erased", "maintenance.backup.created", "maintenance.periodic_task.run"} <= set(literals)
    assert "crm.erasure.replay_after_restore" not in literals  # a dotted path, not an action
    assert "bookings.booking.{}" in shapes and "backup" in operations


def test_every_code_recorded_as_a_literal_has_words():
    literals, _shapes, _operations = scanned()
    missing = [f"{code} ({where})" for code, where in sorted(literals.items()) if code not in ACTIONS]
    assert not missing, "add to audit/actions.py:\n" + "\n".join(missing)


def test_every_code_built_by_an_f_string_has_words():
    _literals, shapes, _operations = scanned()
    dynamic = _dynamic()
    untaught = [f"{shape} ({where})" for shape, where in sorted(shapes.items()) if shape not in dynamic]
    assert not untaught, "teach DYNAMIC in this test which codes these build:\n" + "\n".join(untaught)
    missing = [code for shape in shapes for code in dynamic[shape] if code not in ACTIONS]
    assert not missing, "add to audit/actions.py:\n" + "\n".join(missing)
    assert all(dynamic[shape] for shape in shapes), "a rule expanded to nothing: the scan is out of date"


def test_the_words_are_translated_and_unknown_codes_show_as_they_are():
    with translation.override("es"):
        assert action_label("maintenance.backup.created") == "Copia de seguridad creada"
        assert action_label("crm.client.erased") == "Datos personales del cliente suprimidos (RGPD)"
        assert action_label("backup.create") == "backup.create"  # an entry from an older Beils
    with translation.override("en"):
        assert action_label("maintenance.backup.created") == "Backup created"


@pytest.mark.django_db
def test_the_trail_shows_words_with_the_code_beside_them(admin_browser, admin_user):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    entry = AuditEntryFactory(action="maintenance.backup.created")
    AuditEntryFactory(action="crm.consent.signed")

    listing = admin_browser.get(admin_url(type(entry), "changelist")).content.decode()
    assert "Copia de seguridad creada" in listing and "<code>maintenance.backup.created</code>" in listing
    # The filter offers the words, and filters by the code.
    assert "?action=maintenance.backup.created" in listing and "Consentimiento firmado" in listing
    filtered = admin_browser.get(admin_url(type(entry), "changelist"), {"action": "crm.consent.signed"})
    assert "crm.consent.signed" in filtered.content.decode()
    assert "<code>maintenance.backup.created</code>" not in filtered.content.decode()

    detail = admin_browser.get(admin_url(type(entry), "change", entry.pk)).content.decode()
    assert "Copia de seguridad creada" in detail and "maintenance.backup.created" in detail


@pytest.mark.django_db
def test_searching_the_trail_for_words_finds_the_actions_they_name(admin_browser, admin_user):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    backup = AuditEntryFactory(action="maintenance.backup.created", target_label="one")
    AuditEntryFactory(action="crm.consent.signed", target_label="other")

    found = admin_browser.get(admin_url(type(backup), "changelist"), {"q": "copia de seguridad creada"})
    text = found.content.decode()
    assert "<code>maintenance.backup.created</code>" in text and "<code>crm.consent.signed</code>" not in text
