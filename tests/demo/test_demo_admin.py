import stat
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from crm.models import Role, User
from demo.management.commands import demo_admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def credentials(tmp_path, monkeypatch):
    path = tmp_path / "var" / "demo-admin.txt"
    monkeypatch.setattr(demo_admin, "CREDENTIALS_FILE", path)
    return path


def _run(*args) -> str:
    out = StringIO()
    call_command("demo_admin", *args, stdout=out)
    return out.getvalue()


def test_it_creates_an_admin_who_can_log_in_and_keeps_the_password_private(credentials):
    output = _run()
    email, password = credentials.read_text().split()
    assert email == "admin@example.com"
    assert f"password: {password}" in output
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert authenticate(email=email, password=password).role == Role.ADMIN


def test_it_gives_the_same_password_on_every_run(credentials):
    first = _run("--email", "demo@example.com")
    assert _run("--email", "demo@example.com") == first
    assert User.all_objects.filter(email="demo@example.com").count() == 1


def test_it_puts_back_a_demo_admin_someone_demoted_and_switched_off(credentials, admin_user):
    _run()
    email, password = credentials.read_text().split()
    user = User.all_objects.get(email=email)
    User.all_objects.filter(pk=user.pk).update(role=Role.STAFF)
    User.all_objects.filter(pk=user.pk).deactivate()
    _run()
    user.refresh_from_db()
    assert (user.role, user.is_active) == (Role.ADMIN, True)
    assert authenticate(email=email, password=password) == user
