"""Beils speaks Spanish: every string a person reads is marked for translation and translated in
the ``es`` catalogues, the compiled catalogues match their sources, and money never shows as a
float. Each app's strings live in ``<app>/locale``; templates and ``beils/`` in ``./locale``."""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib import admin
from django.db import models
from django.utils import translation
from django.utils.functional import Promise

from beils.lib.models import project_models

BASE = Path(settings.BASE_DIR)
APPS = ["audit", "crm", "catalog", "marketing", "sales", "bookings", "transfer", "backups", "maintenance",
        "demo", "legacy"]  # fmt: skip
CATALOGUES = sorted(BASE.glob("*/locale/es/LC_MESSAGES/django.po")) + [BASE / "locale/es/LC_MESSAGES/django.po"]
# Calls whose first argument a person reads: it must be a translation call, not a bare literal.
READ_BY_PEOPLE = {"message_user", "ValidationError", "CommandError", "PermissionDenied", "Http404"}


def _name(po: Path) -> str:
    return str(po.relative_to(BASE))


@pytest.mark.parametrize("po", CATALOGUES, ids=_name)
def test_the_spanish_catalogue_is_complete(po):
    catalogue = polib.pofile(str(po))
    assert not [e.msgid for e in catalogue.untranslated_entries()], "untranslated"
    assert not [e.msgid for e in catalogue.fuzzy_entries()], "fuzzy (unchecked) translations"
    assert not [e.msgid for e in catalogue.obsolete_entries()], "obsolete entries: makemessages --no-obsolete"
    # Spanish has three plural forms in Django's catalogues (one, a million, other): a message
    # missing one is shown in English for those numbers ("5 years").
    forms = int(re.search(r"nplurals=(\d+)", catalogue.metadata["Plural-Forms"]).group(1))
    short = [e.msgid for e in catalogue if e.msgid_plural and not all(e.msgstr_plural.get(i) for i in range(forms))]
    assert not short, f"plural forms missing: {short[:10]}"


@pytest.mark.parametrize("po", CATALOGUES, ids=_name)
def test_the_compiled_catalogue_matches_its_source(po):
    mo = po.with_suffix(".mo")
    assert mo.exists(), "compilemessages was not run"
    key = lambda e: (e.msgctxt, e.msgid, e.msgstr, tuple(sorted(e.msgstr_plural.items())))  # noqa: E731
    source = {key(e) for e in polib.pofile(str(po)).translated_entries()}
    compiled = {key(e) for e in polib.mofile(str(mo)) if e.msgid}
    assert source == compiled, "the .mo is stale: run compilemessages"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed (.ci/run installs it)")
def test_the_catalogues_hold_every_marked_string(tmp_path):
    """makemessages on a copy of the tree finds no string the committed catalogues lack."""
    ignore = shutil.ignore_patterns(".venv", ".git", "var", "test-artifacts", "node_modules", "__pycache__", "*.mo")
    copy = tmp_path / "tree"
    shutil.copytree(BASE, copy, ignore=ignore, symlinks=True)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", "--no-obsolete", "--no-location", "-i", "tests/*",
         "-i", "bench/*", "-i", "docs/*"],
        cwd=copy, check=True, capture_output=True,
    )  # fmt: skip
    for po in CATALOGUES:
        ids = lambda path: {(e.msgctxt, e.msgid) for e in polib.pofile(str(path))}  # noqa: E731
        missing = ids(copy / po.relative_to(BASE)) - ids(po)
        assert not missing, f"{_name(po)} lacks {sorted(missing, key=str)[:20]}: run makemessages and translate"


def _spanish_catalogue():
    return translation.trans_real.translation("es")._catalog


def untranslated(value) -> bool:
    """True when ``value`` would reach a Spanish reader in English: a plain string (never marked)
    or a marked one that the ``es`` catalogues lack."""
    if value is None or value == "":
        return False
    if not isinstance(value, Promise):
        return True
    with translation.override("en"):
        english = str(value)
    with translation.override("es"):
        spanish = str(value)
    # "Total" is "Total" in both: translated all the same when the catalogue holds it.
    return spanish == english and english not in _spanish_catalogue() and not re.fullmatch(r"[\W\d_]*", english)


def _model_strings(model):
    meta = model._meta
    yield "verbose_name", meta.verbose_name
    yield "verbose_name_plural", meta.verbose_name_plural
    for field in meta.get_fields(include_hidden=False):
        if field.auto_created or not isinstance(field, models.Field) or field.name == "id":
            continue
        yield f"{field.name}.verbose_name", field.verbose_name
        yield f"{field.name}.help_text", field.help_text
        for _value, label in field.flatchoices or ():
            yield f"{field.name}.choice", label


def _own_models(app_label):
    return [m for m in project_models() if m._meta.app_label == app_label and not m.__name__.startswith("Historical")]


@pytest.mark.parametrize("app_label", APPS)
def test_every_model_string_is_translated(app_label):
    bad = [f"{m.__name__}.{where}: {value!r}" for m in _own_models(app_label) for where, value in _model_strings(m)
           if untranslated(value)]  # fmt: skip
    assert not bad, "\n".join(bad)


def _admin_strings(model_admin):
    for name in model_admin.list_display:
        column = getattr(model_admin, name, None) if isinstance(name, str) else name
        if callable(column) and hasattr(column, "short_description"):
            yield f"list_display {name}", column.short_description
    for _function, name, description in model_admin._get_base_actions():
        yield f"action {name}", description
    for item in model_admin.list_filter:
        if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
            yield f"filter {item.__name__}", item.title
    for title, _options in model_admin.fieldsets or ():
        yield "fieldset", title


@pytest.mark.parametrize("app_label", APPS)
def test_every_admin_string_is_translated(app_label):
    bad = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label == app_label:
            bad += [f"{type(model_admin).__name__} {where}: {value!r}" for where, value in _admin_strings(model_admin)
                    if untranslated(value)]  # fmt: skip
    assert not bad, "\n".join(bad)


def _bare_strings(path: Path):
    """Literal strings (and f-strings) handed straight to something a person reads."""
    source = path.read_text(encoding="utf-8")
    lines, tree = source.splitlines(), ast.parse(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[1] if name == "message_user" and len(node.args) > 1 else node.args[0]
        if name == "message_user" and len(node.args) < 2:
            continue
        owner = func.value if isinstance(func, ast.Attribute) else None
        printed = name == "write" and isinstance(owner, ast.Attribute) and owner.attr in {"stdout", "stderr"}
        styled = isinstance(owner, ast.Attribute) and owner.attr == "style"
        reads = printed or styled or name in READ_BY_PEOPLE or name.endswith("Error") and name[0].isupper()
        # "# i18n: technical" marks a message only an engineer reads (a log, an engine's fault).
        exempt = any("# i18n: technical" in line for line in lines[node.lineno - 1 : node.end_lineno])
        if reads and not exempt and isinstance(first, (ast.Constant, ast.JoinedStr)) and not _is_code(first):
            yield f"{path.relative_to(BASE)}:{node.lineno} {name}({ast.unparse(first)[:60]})"


def _is_code(node) -> bool:
    """Strings for programmers, not people: an identifier-like token, or an f-string whose own
    text has no word in it (``f"{name}: {value}"``)."""
    if isinstance(node, ast.JoinedStr):
        words = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
        return not re.search(r"[^\W\d_]{2,}", words)
    return not isinstance(node.value, str) or bool(re.fullmatch(r"[\w.:-]*", node.value))


@pytest.mark.parametrize("app_label", [*APPS, "beils"])
def test_messages_for_people_are_marked_for_translation(app_label):
    files = [p for p in (BASE / app_label).rglob("*.py") if "migrations" not in p.parts]
    bad = [line for path in files for line in _bare_strings(path)]
    assert not bad, "\n".join(bad)
