from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransferConfig(AppConfig):
    """Import and export for every app: the resources, background jobs, streamed exports, and the
    import/export buttons and API endpoints it adds to the domain apps' screens."""

    name = "transfer"
    verbose_name = _("Import and export")

    def ready(self):
        from crm.erasure import Copies, register_copies
        from transfer.jobs import job_files_remove, job_files_with_client_data

        register_copies(Copies(find=job_files_with_client_data, remove=job_files_remove))
