"""The register of issued invoices in the admin: a period and a format, then the download.
Reached from the invoice list; MANAGER and ADMIN (``sales.report_sales``) only."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beils.lib.net import client_ip
from sales.admin.carts import date_input
from sales.models import SalesError
from sales.register import invoice_register_export, period_check, previous_month

FORMAT_CHOICES = [
    ("csv", _("CSV (register of issued invoices)")),
    ("xlsx", _("Excel, XLSX (register of issued invoices)")),
    ("json", _("JSON (Veri*Factu records, hash chain checked)")),
]


class RegisterForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=date_input())
    end = forms.DateField(label=_("To"), widget=date_input(), help_text=_("Both days included."))
    format = forms.ChoiceField(label=_("Format"), choices=FORMAT_CHOICES, initial="csv")

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                period_check(data["start"], data["end"])
            except SalesError as error:
                raise forms.ValidationError(str(error)) from error
        return data


def register_view(model_admin, request):
    """The form (last month by default); a valid one answers with the file, audited."""
    if not request.user.has_perm("sales.report_sales"):
        raise PermissionDenied
    if {"start", "end", "format"} & set(request.GET):
        form = RegisterForm(request.GET)
        if form.is_valid():
            data = form.cleaned_data
            exported = invoice_register_export(
                start=data["start"], end=data["end"], fmt=data["format"], actor=request.user,
                ip_address=client_ip(request), via="admin",
            )  # fmt: skip
            # Streamed from the temporary file, which the response closes once sent.
            return FileResponse(
                exported.file, as_attachment=True, filename=exported.name, content_type=exported.content_type
            )
    else:
        start, end = previous_month(timezone.localdate())
        form = RegisterForm(initial={"start": start, "end": end, "format": "csv"})
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Register of issued invoices"),
        "opts": model_admin.opts,
        "form": form,
    }
    return TemplateResponse(request, "admin/sales/invoice/register.html", context)
