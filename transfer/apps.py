from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransferConfig(AppConfig):
    """Import and export for every app: the resources, background jobs, streamed exports, and the
    import/export buttons and API endpoints it adds to the domain apps' screens."""

    name = "transfer"
    verbose_name = _("Import and export")

    def ready(self):
        from crm.erasure import Copies, register_copies

        register_copies(Copies(find=_job_files_with_client_data, remove=_job_files_remove))


# transfer.jobs loads django-import-export and tablib: imported when an erasure asks, not at start-up.
def _job_files_with_client_data(labels):
    from transfer.jobs import job_files_with_client_data

    return job_files_with_client_data(labels)


def _job_files_remove(jobs):
    from transfer.jobs import job_files_remove

    job_files_remove(jobs)
