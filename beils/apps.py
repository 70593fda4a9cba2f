from django.contrib.admin.apps import AdminConfig


class BeilsAdminConfig(AdminConfig):
    default_site = "beils.admin_site.BeilsAdminSite"

    def ready(self):
        super().ready()
        from beils import checks  # noqa: F401  (registers the deploy checks)
