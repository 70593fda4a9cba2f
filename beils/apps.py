from django.contrib.admin.apps import AdminConfig


class BeilsAdminConfig(AdminConfig):
    default_site = "beils.admin_site.BeilsAdminSite"

    def ready(self):
        super().ready()
        from django.db.backends.signals import connection_created

        from beils import checks  # noqa: F401  (registers the deploy checks)
        from beils.lib.private import sqlite_file_private

        connection_created.connect(sqlite_file_private, dispatch_uid="beils.sqlite_file_private")
