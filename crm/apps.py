from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Clients and staff")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="crm.sync_role_groups")
        from crm import (
            auth,  # noqa: F401  (connects the lockout audit receiver)
            checks,  # noqa: F401  (registers the personal-data registry's check)
        )


def _sync_roles(using, **kwargs):
    from crm.roles import create_all_permissions, sync_role_groups

    # post_migrate reaches crm before the apps listed after it have their permissions.
    create_all_permissions(using=using)
    sync_role_groups(using=using)
