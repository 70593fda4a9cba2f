"""The invoice screens: an invoice's PDF, its e-mail to the client and its refund through a
rectifying invoice; the invoice numbering; and the archive of old sales (read-only)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beils.lib.admin import MoneyFieldsAdmin, ReadOnlyAdmin, ReadOnlyInline
from beils.lib.changelists import BigListMixin
from beils.lib.history import HistoryAdmin
from beils.lib.money import format_money
from sales.admin.carts import LINE_MONEY, TOTALS
from sales.admin.register import register_view
from sales.models import (
    ArchivedCart,
    ArchivedCartItem,
    ArchivedPayment,
    Invoice,
    InvoiceKind,
    InvoiceSequence,
    SalesError,
)
from sales.receipts import invoice_pdf
from sales.services import invoice_email, invoice_recipient, invoice_rectify


class RectifyForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=255, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Printed on the rectifying invoice: a refund, a wrong price, a service not given…"),
    )  # fmt: skip


@admin.register(Invoice)
class InvoiceAdmin(MoneyFieldsAdmin, BigListMixin, ReadOnlyAdmin, HistoryAdmin):
    money_fields = ("net_total", "tax_total", "total")
    list_display = ["number", "kind", "issue_date", "customer_name", "net_total", "tax_total", "total"]
    list_filter = ["kind", "series", "year"]
    search_fields = ["=number", "customer_name", "customer_tax_id"]
    date_hierarchy = "issue_date"
    change_form_template = "admin/sales/invoice/change_form.html"
    change_list_template = "admin/sales/invoice/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("register/", view(self.register_view), name="sales_invoice_register"),
            path("<int:object_id>/pdf/", view(self.pdf_view), name="sales_invoice_pdf"),
            path("<int:object_id>/email/", view(self.email_view), name="sales_invoice_email"),
            path("<int:object_id>/rectify/", view(self.rectify_view), name="sales_invoice_rectify"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_rectify"] = bool(obj and obj.kind != InvoiceKind.RECTIFYING and self._may_rectify(request))
        context["client_email"] = obj and obj.cart_id and invoice_recipient(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _may_rectify(self, request) -> bool:
        return request.user.has_perm("sales.add_invoice")

    def _invoice(self, request, object_id) -> Invoice:
        invoice = get_object_or_404(Invoice, pk=object_id)
        if not self.has_view_permission(request, invoice):
            raise PermissionDenied
        return invoice

    def register_view(self, request):
        """The register of issued invoices of a period, to download (sales/admin/register.py)."""
        return register_view(self, request)

    def pdf_view(self, request, object_id):
        """The invoice as the customer gets it, to print or save."""
        invoice = self._invoice(request, object_id)
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
        return response

    def email_view(self, request, object_id):
        invoice = self._invoice(request, object_id)
        change_url = reverse("admin:sales_invoice_change", args=[invoice.pk])
        if request.method != "POST":
            return redirect(change_url)
        try:
            recipient = invoice_email(invoice=invoice, actor=request.user)
        except SalesError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(
                request, _("Invoice %(number)s sent to %(email)s.") % {"number": invoice.number, "email": recipient},
                messages.SUCCESS,
            )  # fmt: skip
        return redirect(change_url)

    def rectify_view(self, request, object_id):
        """A refund or correction: a rectifying invoice for the opposite amounts, with its reason."""
        invoice = self._invoice(request, object_id)
        if not self._may_rectify(request):
            raise PermissionDenied
        form = RectifyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                rectifying = invoice_rectify(invoice=invoice, reason=form.cleaned_data["reason"], actor=request.user)
            except SalesError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Rectifying invoice %(number)s issued for %(total)s.")
                    % {"number": rectifying.number, "total": format_money(rectifying.total)},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:sales_invoice_change", args=[rectifying.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Rectify invoice %(number)s") % {"number": invoice.number},
            "opts": self.opts,
            "original": invoice,
            "form": form,
        }
        return TemplateResponse(request, "admin/sales/invoice/rectify.html", context)


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(ReadOnlyAdmin):
    list_display = ["series", "year", "last_number"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(year__lte=timezone.localdate().year + 1)


# --- The archive (read-only; maintenance/archive.py moves sales in and out) ------------------


class ArchivedCartItemInline(MoneyFieldsAdmin, ReadOnlyInline):
    model = ArchivedCartItem
    money_fields = LINE_MONEY
    fields = ["name", "quantity", "unit_price", "tax_rate", "discount", "net", "tax", "gross"]
    can_delete = False


class ArchivedPaymentInline(MoneyFieldsAdmin, ReadOnlyInline):
    model = ArchivedPayment
    money_fields = ("amount",)
    fields = ["method", "amount", "paid_at"]
    can_delete = False


@admin.register(ArchivedCart)
class ArchivedCartAdmin(MoneyFieldsAdmin, BigListMixin, ReadOnlyAdmin):
    money_fields = tuple(TOTALS)
    """Completed sales moved out of the live tables by the retention policy: visible and
    exportable here, never edited; ``manage.py unarchive`` brings them back."""

    list_display = ["__str__", "completed_at", "client", "total", "archived_at"]
    list_select_related = ["client"]
    date_hierarchy = "completed_at"
    search_fields = ["=id", "^client__email", "^client__name"]
    inlines = [ArchivedCartItemInline, ArchivedPaymentInline]
    readonly_fields = [f.name for f in ArchivedCart._meta.fields]
