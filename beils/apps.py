from django.contrib.admin.apps import AdminConfig


class BeilsAdminConfig(AdminConfig):
    default_site = "beils.admin_site.BeilsAdminSite"
