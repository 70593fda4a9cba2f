"""The post_migrate hook that keeps the role groups in line with crm/roles.py."""

import pytest
from django.contrib.auth.models import Group
from django.core.management.sql import emit_post_migrate_signal

from crm.roles import GROUP_NAMES

pytestmark = pytest.mark.django_db


def test_the_role_groups_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(GROUP_NAMES.values())


@pytest.mark.xfail(
    reason="crm/apps.py _sync_roles(using, apps, **kwargs) requires `apps`, but `manage.py flush` (and every "
    "transactional test's teardown) emits post_migrate without it: TypeError",
    raises=TypeError,
    strict=True,
)
def test_the_role_groups_are_rebuilt_when_flush_emits_post_migrate():
    Group.objects.filter(name__in=GROUP_NAMES.values()).delete()
    # Exactly what `manage.py flush` does after emptying the tables.
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert set(Group.objects.values_list("name", flat=True)) >= set(GROUP_NAMES.values())
