"""Import and export in the admin: the buttons on every changelist that has a resource, the
background jobs behind large files, and their pages.

The domain apps' admins know nothing of this: ``add_import_export``
(``transfer/import_export_admin.py``) gives each registered admin whose model has a resource
(``transfer.resources.RESOURCES``) the import and export buttons. It runs when the admin site's
URLs or checks are first needed (``BeilsAdminSite.defer``): after every admin module has loaded,
and not at all for a ``manage.py`` command that never serves the admin, which therefore does not
import django-import-export, tablib and openpyxl.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.services import audit_log
from beils.lib.admin import ReadOnlyAdmin
from beils.lib.net import client_ip
from transfer.models import Job, JobState, SavedMapping


def _add_import_export(site: admin.AdminSite) -> None:
    from transfer.import_export_admin import add_import_export
    from transfer.resources import RESOURCES

    add_import_export(site, RESOURCES)


admin.site.defer(_add_import_export)


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """Large imports and exports: their progress, their confirmation and their files.

    Managers and admins see their own jobs; admins see everyone's."""

    list_display = ["created_at", "kind", "data", "file_format", "state", "rows_total", "actor"]
    list_filter = ["kind", "state"]
    list_select_related = ["actor"]
    show_full_result_count = False

    def has_view_permission(self, request, obj=None):
        user = request.user
        allowed = user.is_active and user.has_perm("transfer.export_data")
        return allowed and (obj is None or user.has_perm("transfer.view_every_job") or obj.actor_id == user.pk)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.progress_view), name="transfer_job_progress"),
            path("<int:pk>/confirm/", view(self.confirm_view), name="transfer_job_confirm"),
            path("<int:pk>/download/", view(self.download_view), name="transfer_job_download"),
            *super().get_urls(),
        ]

    def _job(self, request, pk) -> Job:
        job = get_object_or_404(Job, pk=pk)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return job

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from transfer.jobs import job_progress

        job = self._job(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(job),
            "job": job,
            "original": job,
            "progress": job_progress(job),
            "can_confirm": job.state == JobState.VALIDATED and job.actor_id == request.user.pk,
        }
        return TemplateResponse(request, "admin/transfer/job/detail.html", context)

    @admin.display(description=gettext_lazy("data"), ordering="model_label")
    def data(self, obj):
        return obj.data_name

    def progress_view(self, request, pk):
        from transfer.jobs import job_progress

        return JsonResponse(job_progress(self._job(request, pk)))

    def confirm_view(self, request, pk):
        from transfer.jobs import JobError, job_confirm

        job = self._job(request, pk)
        if request.method != "POST" or job.actor_id != request.user.pk:
            raise PermissionDenied
        try:
            job_confirm(job=job, actor=request.user, ip_address=client_ip(request))
        except JobError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, _("Import confirmed: it runs now; this page follows it."), messages.SUCCESS)
        return redirect("admin:transfer_job_change", job.pk)

    def download_view(self, request, pk):
        job = self._job(request, pk)
        if not job.output_name or not default_storage.exists(job.output_name):
            raise Http404(_("This job has no file to download."))
        audit_log(
            action="maintenance.job.downloaded", actor=request.user, target=job, ip_address=client_ip(request),
            detail={"file": job.output_name},
        )  # fmt: skip
        name = job.output_name.rsplit("/", 1)[-1]
        return FileResponse(default_storage.open(job.output_name, "rb"), as_attachment=True, filename=name)


@admin.register(SavedMapping)
class SavedMappingAdmin(ReadOnlyAdmin):
    """The column mappings remembered per source. Shown so that a wrong memory can be seen and
    deleted (the next file from that source is then guessed afresh); never edited here: the
    mapping step of an import is where columns are chosen."""

    list_display = ["source", "resource", "columns_mapped", "date_order", "updated_at", "updated_by"]
    list_filter = ["resource"]
    list_select_related = ["updated_by"]
    search_fields = ["source"]
    fields = ["source", "resource", "columns", "date_order", "updated_at", "updated_by"]
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("transfer.delete_savedmapping")

    @admin.display(description=gettext_lazy("columns"))
    def columns_mapped(self, obj):
        return len([name for name in obj.columns.values() if name])
