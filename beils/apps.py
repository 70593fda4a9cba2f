from importlib import import_module

from django.apps import apps
from django.contrib.admin.apps import SimpleAdminConfig
from django.utils.module_loading import module_has_submodule


class BeilsAdminConfig(SimpleAdminConfig):
    """The admin, discovering every installed app's ``admin`` module as ``AdminConfig`` does,
    except those in ``NOT_DISCOVERED``."""

    default_site = "beils.admin_site.BeilsAdminSite"
    #: Apps whose ``admin`` module registers nothing and is heavy to import. django-import-export's
    #: holds the mixins that transfer gives the domain admins, and loads tablib and openpyxl
    #: (~0.3 s); transfer imports it when the site's URLs or checks are first needed
    #: (``BeilsAdminSite.defer``), so a ``manage.py`` command that never serves the admin skips it.
    NOT_DISCOVERED = frozenset({"import_export"})

    def ready(self):
        super().ready()
        self.discover()
        from django.db.backends.signals import connection_created

        from beils import checks  # noqa: F401  (registers the deploy checks)
        from beils.lib.private import sqlite_file_private

        connection_created.connect(sqlite_file_private, dispatch_uid="beils.sqlite_file_private")

    def discover(self):
        for app_config in apps.get_app_configs():
            if app_config.name not in self.NOT_DISCOVERED and module_has_submodule(app_config.module, "admin"):
                import_module(f"{app_config.name}.admin")
