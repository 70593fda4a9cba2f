"""Periodic tasks in the admin: MANAGER may look at the schedules, only ADMIN may change or run them.

django-celery-beat's own admin actions only ask for the view permission; Beils re-registers it so
that enabling, disabling, toggling and running a schedule need the change permission.
"""

import pytest
from django_celery_beat.models import PeriodicTask

from audit.models import AuditEntry
from beils.celery import app as celery_app
from maintenance.models import Heartbeat
from tests.factories import PeriodicTaskFactory
from tests.helpers import admin_url

pytestmark = pytest.mark.django_db

CHANGES = [("enable_tasks", False, True), ("disable_tasks", True, False), ("toggle_tasks", True, False)]


@pytest.fixture
def eager_celery():
    """Run tasks in-process so that "run" has an effect this test can see (a Heartbeat row)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def _post_action(browser, action, task):
    return browser.post(
        admin_url(PeriodicTask, "changelist"), {"action": action, "_selected_action": [task.pk]}, follow=True
    )


@pytest.mark.parametrize("action, enabled_before, _", CHANGES)
def test_it_refuses_a_manager_enabling_or_disabling_a_schedule(manager_browser, action, enabled_before, _):
    task = PeriodicTaskFactory(enabled=enabled_before)
    _post_action(manager_browser, action, task)
    task.refresh_from_db()
    assert task.enabled is enabled_before


@pytest.mark.parametrize("action, enabled_before, enabled_after", CHANGES)
def test_the_admin_may_enable_and_disable_schedules(admin_browser, action, enabled_before, enabled_after):
    task = PeriodicTaskFactory(enabled=enabled_before)
    response = _post_action(admin_browser, action, task)
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.enabled is enabled_after
    assert AuditEntry.objects.filter(action="maintenance.periodic_task.changed", target_id=str(task.pk)).exists()


def test_it_refuses_a_manager_running_a_schedule(manager_browser, eager_celery):
    task = PeriodicTaskFactory(task="maintenance.heartbeat")
    _post_action(manager_browser, "run_tasks", task)
    assert not Heartbeat.objects.exists()


def test_the_admin_may_run_a_schedule_now(admin_browser, eager_celery):
    task = PeriodicTaskFactory(task="maintenance.heartbeat")
    response = _post_action(admin_browser, "run_tasks", task)
    assert response.status_code == 200
    assert Heartbeat.objects.filter(name="celery").exists()
    assert AuditEntry.objects.filter(action="maintenance.periodic_task.run", target_id=str(task.pk)).exists()


def test_a_manager_is_not_offered_the_schedule_actions(manager_browser):
    PeriodicTaskFactory()
    response = manager_browser.get(admin_url(PeriodicTask, "changelist"))
    assert response.status_code == 200
    offered = (
        {name for name, _ in response.context["action_form"].fields["action"].choices}
        if response.context.get("action_form")
        else set()
    )
    assert not offered & {"enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks", "delete_selected"}


def test_a_manager_may_still_read_a_schedule(manager_browser):
    task = PeriodicTaskFactory()
    assert manager_browser.get(admin_url(PeriodicTask, "change", task.pk)).status_code == 200
