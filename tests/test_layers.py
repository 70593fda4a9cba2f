"""The rooms keep their floors (docs/architecture.md): no module imports a room above its own,
and no module grows past 600 lines."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOOR = {
    "beils": 0,
    "audit": 1,
    **dict.fromkeys(["crm", "catalog", "marketing", "sales", "bookings"], 2),
    **dict.fromkeys(["transfer", "backups", "maintenance", "demo"], 3),
    "legacy": 4,
}
WIRING = {"beils/urls.py", "beils/admin_site.py", "beils/celery.py"}
MAX_LINES = 600


def _modules():
    for room in FLOOR:
        for path in sorted((ROOT / room).rglob("*.py")) if (ROOT / room).exists() else []:
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in rel and rel not in WIRING and not path.name.startswith("settings"):
                yield rel, path


def _imported_rooms(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


def test_no_module_imports_a_room_above_its_own():
    upward = []
    for rel, path in _modules():
        room = rel.split("/")[0]
        for line, target in _imported_rooms(ast.parse(path.read_text())):
            if FLOOR.get(target, -1) > FLOOR[room]:
                upward.append(f"{rel}:{line} ({room}, floor {FLOOR[room]}) imports {target} (floor {FLOOR[target]})")
    assert upward == []


def test_no_module_is_over_600_lines():
    big = [f"{rel}: {n}" for rel, path in _modules() if (n := path.read_text().count("\n")) > MAX_LINES]
    assert big == []


@pytest.mark.parametrize("source", ["from crm.models import Client\n", "import maintenance.cleanup\n"])
def test_the_check_sees_an_import_up_the_floors(source):
    assert {room for _, room in _imported_rooms(ast.parse(source))} & {"crm", "maintenance"}
