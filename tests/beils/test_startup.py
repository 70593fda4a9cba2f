"""Every ``manage.py`` command starts without importing what only a screen or a job needs
(issue 17): django-import-export with tablib and openpyxl, the legacy importer, the maintenance
dashboard and cleanup. Pinned by the modules loaded, not by timing (docs/benchmarks.md has the
figures)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.contrib import admin
from django.urls import get_resolver

ROOT = Path(__file__).resolve().parents[2]

#: Runs manage.py with the given arguments and writes the names of the loaded modules to
#: $MODULES_OUT, however the command ends.
PROBE = """
import json, os, runpy, sys
sys.argv = ["manage.py", *sys.argv[1:]]
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    with open(os.environ["MODULES_OUT"], "w") as out:
        json.dump(sorted(sys.modules), out)
"""

#: Loaded by a screen, a job or a command that needs them; never at start-up.
NOT_AT_START_UP = [
    "openpyxl",
    "tablib",
    "import_export.admin",
    "import_export.formats.base_formats",
    "import_export.resources",
    "transfer.import_export_admin",
    "transfer.resources",
    "transfer.jobs",
    "legacy.services",
    "legacy.importer",
    "maintenance.dashboard",
    "maintenance.cleanup",
    "boto3",
    "drf_spectacular.openapi",
]


def loaded_by(*args, tmp_path) -> set[str]:
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, env={**env, "MODULES_OUT": str(out)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def test_manage_py_help_sets_django_up_without_the_heavy_modules(tmp_path):
    modules = loaded_by("help", tmp_path=tmp_path)
    # Django was set up and the admin modules discovered: the absences below mean something.
    assert {"crm.admin", "transfer.admin", "backups.admin"} <= modules
    assert sorted(set(NOT_AT_START_UP) & modules) == []


def test_the_system_checks_see_the_import_and_export_buttons(tmp_path):
    # The admin checks run on the admins as they are served, import/export mixin included.
    modules = loaded_by("check", "--tag", "admin", tmp_path=tmp_path)
    assert {"transfer.import_export_admin", "import_export.admin"} <= modules


def test_every_model_with_a_resource_has_the_buttons_once_the_urls_load():
    from transfer.import_export_admin import ImportExportAdmin
    from transfer.resources import RESOURCES

    get_resolver().url_patterns  # noqa: B018 - loading the URLconf builds admin.site.urls
    without = [
        model._meta.label for model in RESOURCES if not isinstance(admin.site._registry[model], ImportExportAdmin)
    ]
    assert without == []


#: Project commands that run every system check: maintenance's migrate is Django's.
ALL_CHECKS = {"migrate"}


def test_every_operator_command_skips_the_web_sides_checks():
    from django.core.management import get_commands, load_command_class

    from beils.lib.commands import OperatorCommand

    ours = {name: app for name, app in get_commands().items() if (ROOT / app).is_dir() and name not in ALL_CHECKS}
    assert "backup" in ours
    assert [name for name, app in ours.items() if not isinstance(load_command_class(app, name), OperatorCommand)] == []


def test_the_operator_checks_load_neither_the_urls_nor_the_admin_buttons(tmp_path):
    from django.core.checks.registry import registry

    from beils.lib.commands import OPERATOR_CHECKS

    tags = sorted(set(OPERATOR_CHECKS) & registry.tags_available())
    assert "models" in tags
    modules = loaded_by("check", *(f"--tag={tag}" for tag in tags), tmp_path=tmp_path)
    assert {"beils.urls", "import_export.admin", "django.db.migrations.autodetector"} & modules == set()
