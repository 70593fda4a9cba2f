"""Roles are Django groups. This module is the one statement of what each role may do.

ADMIN may do everything, including restore and erasure. MANAGER runs the salon: the catalogue,
marketing, reports, exports, archiving and GDPR access requests, but no erasure and no user
management. STAFF does the daily work on clients, bookings and sales, and never hard-deletes or
exports.

``sync_role_groups`` makes the groups match this policy; it runs from a migration and after
every ``migrate`` so that a model added later gets its permissions on the right roles.
"""

from functools import cache

from django.apps import apps as global_apps
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from crm.models import Role

GROUP_NAMES = {role: role.group_name for role in Role}

# {app_label: {model_name or "*": actions}}; actions: v=view a=add c=change d=delete.
# Custom permissions are listed by codename in EXTRA.
#
# Money rule (domain.md): value (gift card balances, bono sessions, payments) and debts appear only
# through a sale (checkout, booking charge) or an audited ADMIN/MANAGER act with a reason (a comp
# gift card), and debts shrink only through ``debt_pay``. So no role below ADMIN adds rows to the
# value ledgers or debts by hand: the till sells gift cards and bonos through checkout, which needs
# ``sales.add_cart``/``change_cart``; taking a debt payment needs ``sales.add_debtpayment`` and goes
# through the service. MANAGER's ``add_giftcard`` is the comp, which asks for a reason.
_DAILY_WORK = {
    "crm": {"client": "vac", "consent": "vac", "revoke": "va", "questionnaire": "vac", "user": "v"},
    "catalog": {"*": "v"},
    "marketing": {"*": "v"},
    "sales": {"*": "v", "cart": "vac", "cartitem": "vacd", "debtpayment": "va"},
    "bookings": {"booking": "vac", "bookingitem": "vacd"},
}
_MANAGEMENT = {
    # Client merges: a manager merges duplicates and may read the record; undoing one is ADMIN's.
    "crm": {
        "client": "vac",
        "consent": "vacd",
        "revoke": "va",
        "questionnaire": "vacd",
        "user": "v",
        "clientmergerecord": "v",
    },  # fmt: skip
    "catalog": {"*": "vacd"},
    # A client's bono: a manager may correct its dates or status, never add one or its sessions.
    # A gift card: a manager comps one (with a reason) or edits its dates, never deletes its ledger.
    "marketing": {"*": "vacd", "clientbonus": "vc", "bonusredemption": "v", "giftcard": "vac", "giftcardmovement": "v"},
    # A debt: a manager may move its due date or add a note; its amount moves only with payments.
    "sales": {"*": "v", "cart": "vac", "cartitem": "vacd", "debt": "vc", "debtpayment": "va"},
    "bookings": {"*": "vacd"},
    "audit": {"*": "v"},
    "transfer": {"job": "v", "savedmapping": "vd"},
    "backups": {"*": "v"},
    "maintenance": {"*": "v"},
    "django_celery_beat": {"*": "v"},
}
POLICY = {Role.STAFF: _DAILY_WORK, Role.MANAGER: _MANAGEMENT}
EXTRA = {Role.MANAGER: {"crm.export_client", "transfer.export_data", "transfer.import_catalogue", "sales.report_sales"}}

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


#: Django names the permissions it makes in English, in the database ("Can add client"): these
#: say the same in the reader's language.
_CAN = {
    "add": _("Can add %(thing)s"),
    "change": _("Can change %(thing)s"),
    "delete": _("Can delete %(thing)s"),
    "view": _("Can view %(thing)s"),
}


def permission_label(permission) -> str:
    """A permission as the group page lists it ("Clients and staff | Client | Can add client"),
    in the reader's language: a model's own permissions by its ``Meta.permissions`` (marked for
    translation), Django's four by ``_CAN``; anything else by its stored name. Expects the
    permission's content type loaded (``select_related``)."""
    content_type = permission.content_type
    model = content_type.model_class()
    if model is None:
        # A content type left behind by a model that moved apps (maintenance.Backup → backups):
        # its permissions are still those of the model's ``Meta.permissions``, wherever it is now.
        name = _custom_permission_names().get(permission.codename, permission.name)
        return f"{content_type.app_label} | {content_type.model} | {name}"
    action, _sep, model_name = permission.codename.partition("_")
    name = dict(model._meta.permissions).get(permission.codename)
    if name is None and model_name == model._meta.model_name and action in _CAN:
        name = _CAN[action] % {"thing": model._meta.verbose_name}
    app, thing = capfirst(model._meta.app_config.verbose_name), capfirst(model._meta.verbose_name)
    return f"{app} | {thing} | {name or permission.name}"


@cache
def _custom_permission_names() -> dict:
    return {codename: name for model in global_apps.get_models() for codename, name in model._meta.permissions}
