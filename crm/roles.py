"""Roles are Django groups. This module is the one statement of what each role may do.

ADMIN may do everything, including restore and erasure. MANAGER runs the salon: the catalogue,
marketing, reports, exports, archiving and GDPR access requests, but no erasure and no user
management. STAFF does the daily work on clients, bookings and sales, and never hard-deletes or
exports.

``sync_role_groups`` makes the groups match this policy; it runs from a migration and after
every ``migrate`` so that a model added later gets its permissions on the right roles.
"""

from django.apps import apps as global_apps

from crm.models import Role

GROUP_NAMES = {Role.ADMIN: "Admin", Role.MANAGER: "Manager", Role.STAFF: "Staff"}

# {app_label: {model_name or "*": actions}}; actions: v=view a=add c=change d=delete.
# Custom permissions are listed by codename in EXTRA.
_DAILY_WORK = {
    "crm": {"client": "vac", "consent": "vac", "revoke": "va", "questionnaire": "vac", "user": "v"},
    "catalog": {"*": "v"},
    "marketing": {"*": "v", "clientbonus": "vac", "bonusredemption": "va", "giftcard": "va", "giftcardmovement": "va"},
    "sales": {"*": "v", "cart": "vac", "cartitem": "vacd", "payment": "va", "debt": "va", "debtpayment": "va"},
    "bookings": {"booking": "vac", "bookingitem": "vacd"},
}
_MANAGEMENT = {
    "crm": {"client": "vac", "consent": "vacd", "revoke": "va", "questionnaire": "vacd", "user": "v"},
    "catalog": {"*": "vacd"},
    "marketing": {"*": "vacd", "bonusredemption": "va", "giftcardmovement": "va"},
    "sales": {"*": "v", "cart": "vac", "cartitem": "vacd", "payment": "va", "debt": "vac", "debtpayment": "va"},
    "bookings": {"*": "vacd"},
    "maintenance": {"*": "v"},
    "django_celery_beat": {"*": "v"},
}
POLICY = {Role.STAFF: _DAILY_WORK, Role.MANAGER: _MANAGEMENT}
EXTRA = {Role.MANAGER: {"crm.export_client", "maintenance.export_data", "sales.report_sales"}}

_ACTIONS = {"v": "view", "a": "add", "c": "change", "d": "delete"}


def role_permission_names(role: Role, apps=global_apps) -> set[str]:
    """Every ``app_label.codename`` the role holds (ADMIN: every permission there is)."""
    Permission = apps.get_model("auth", "Permission")
    every = {
        f"{app}.{codename}" for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    if role == Role.ADMIN:
        return every
    granted = set(EXTRA.get(role, set()))
    for app_label, rules in POLICY[role].items():
        for codename in (name.split(".", 1)[1] for name in every if name.startswith(f"{app_label}.")):
            action, _, model_name = codename.partition("_")
            allowed = rules.get(model_name, rules.get("*", ""))
            if any(_ACTIONS[letter] == action for letter in allowed):
                granted.add(f"{app_label}.{codename}")
    return granted & every


def sync_role_groups(apps=global_apps, using="default") -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, group_name in GROUP_NAMES.items():
        group, _ = Group.objects.using(using).get_or_create(name=group_name)
        wanted = role_permission_names(role, apps)
        perms = [
            perm
            for perm in Permission.objects.using(using).select_related("content_type")
            if f"{perm.content_type.app_label}.{perm.codename}" in wanted
        ]
        group.permissions.set(perms)


def role_group(role: Role):
    from django.contrib.auth.models import Group

    group, _ = Group.objects.get_or_create(name=GROUP_NAMES[Role(role)])
    return group


def create_all_permissions(apps=global_apps, using="default") -> None:
    """Create the permissions of every installed model now, not at the end of ``migrate``."""
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
