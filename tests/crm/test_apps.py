"""The post_migrate hook that keeps the role groups in line with crm/roles.py."""

import pytest
from django.contrib.auth.models import Group
from django.core.management.sql import emit_post_migrate_signal

from crm.roles import GROUP_NAMES

pytestmark = pytest.mark.django_db


def test_the_role_groups_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(GROUP_NAMES.values())


def test_the_role_groups_are_rebuilt_when_flush_emits_post_migrate():
    # `manage.py flush` (and a transactional test's teardown) sends post_migrate without `apps`.
    Group.objects.filter(name__in=GROUP_NAMES.values()).delete()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    groups = {group.name: group for group in Group.objects.filter(name__in=GROUP_NAMES.values())}
    assert set(groups) == set(GROUP_NAMES.values())
    assert groups["Staff"].permissions.filter(codename="view_client").exists()
    assert not groups["Staff"].permissions.filter(codename="delete_client").exists()
