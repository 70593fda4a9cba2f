"""The sales screens: sales and the till, their lines and payments, the reports, and debts."""

import csv
from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.services import audit_log
from beils.lib.admin import MoneyFieldsAdmin, ReadOnlyInline
from beils.lib.changelists import BigListMixin
from beils.lib.money import ZERO, format_money, round_money
from beils.lib.net import client_ip
from crm.models import Role
from marketing.models import MarketingError
from sales.models import (
    Cart,
    CartItem,
    CartStatus,
    Debt,
    DebtPayment,
    DebtStatus,
    Payment,
    PaymentMethod,
    SalesError,
)
from sales.reports import CSV_TABLES, DEFAULT_DAYS, MAX_DAYS, chart_data, csv_table, default_range, sales_report_cached
from sales.services import (
    cart_checkout,
    cart_lines,
    cart_reprice,
    debt_pay,
)
from sales.till import PaymentFormSet, TillForm, bono_states

TOTALS = ["subtotal", "discount_total", "net_total", "tax_total", "total"]
LINE_MONEY = ("unit_price", "discount", "net", "tax", "gross")


DOMAIN_ERRORS = (SalesError, MarketingError)
PAYMENT_CHOICES = [c for c in PaymentMethod.choices if c[0] != PaymentMethod.GIFT_CARD]


def is_admin_role(user) -> bool:
    return user.is_superuser or user.role == Role.ADMIN


class AdminRoleOnlyWrites:
    """Lines and payments are written by checkout. By hand only the ADMIN role may add, change
    or delete them (legacy imports, data repair); everyone else sees them."""

    def has_add_permission(self, request):
        return is_admin_role(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return is_admin_role(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_admin_role(request.user) and super().has_delete_permission(request, obj)

    # Money moved by hand is an audited ADMIN act (domain rule: money appears only through a
    # sale or an audited act): every write and delete here leaves an entry.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._audit_repair(request, obj, "changed" if change else "added", sorted(form.changed_data))

    def delete_model(self, request, obj):
        self._audit_repair(request, obj, "deleted", [])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit_repair(request, obj, "deleted", [])
        super().delete_queryset(request, queryset)

    def _audit_repair(self, request, obj, verb: str, fields: list[str]) -> None:
        audit_log(
            action=f"{obj._meta.app_label}.{obj._meta.model_name}.{verb}_by_hand", actor=request.user, target=obj,
            detail={"fields": fields}, ip_address=client_ip(request),
        )  # fmt: skip


class CartItemInline(MoneyFieldsAdmin, admin.TabularInline):
    """The lines of an open cart: choose what is sold and how many; the prices come from the
    catalogue when the cart is saved."""

    model = CartItem
    extra = 0
    fields = [
        "product",
        "service",
        "pack",
        "bonus",
        "client_bonus",
        "name",
        "quantity",
        "unit_price",
        "tax_rate",
        "discount",
        "net",
        "tax",
        "gross",
    ]
    readonly_fields = ["name", "unit_price", "tax_rate", "discount", "net", "tax", "gross"]
    autocomplete_fields = ["product", "service", "pack", "bonus", "client_bonus"]
    money_fields = LINE_MONEY


class PaymentInline(MoneyFieldsAdmin, ReadOnlyInline):
    model = Payment
    money_fields = ("amount",)
    fields = ["method", "amount", "paid_at", "gift_card"]


def date_input() -> forms.DateInput:
    # The browser's date picker reads and writes ISO dates, whatever the reader's language.
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DebtPayForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2, min_value=0.01)
    method = forms.ChoiceField(label=_("Paid by"), choices=PAYMENT_CHOICES, initial=PaymentMethod.CASH)


class ReportPeriodForm(forms.Form):
    """The reports page's period, both days included; empty means the last 30 days."""

    start = forms.DateField(label=_("From"), required=False, widget=date_input())
    end = forms.DateField(label=_("To"), required=False, widget=date_input())

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        end = data.get("end") or self.today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > self.today:
            raise forms.ValidationError(_("The period starts in the future: there are no sales to report yet."))
        if start > end:
            raise forms.ValidationError(_("The period starts after it ends: choose a start on or before the end."))
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(
                _("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS}, code="too_long"
            )
        data["start"], data["end"] = start, end
        return data

    @property
    def period(self) -> tuple:
        """The valid period chosen, or the default one."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return default_range(self.today)


class OverdueFilter(admin.SimpleListFilter):
    title = _("due")
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", _("Overdue")), ("open", _("Open (not paid)"))]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.overdue()
        if self.value() == "open":
            return queryset.open()
        return queryset


@admin.register(Cart)
class CartAdmin(MoneyFieldsAdmin, BigListMixin, admin.ModelAdmin):
    money_fields = tuple(TOTALS)
    list_display = ["__str__", "completed_at", "client", "status", "total", "paid"]
    list_filter = ["status"]
    list_select_related = ["client"]
    search_fields = ["=id", "^client__name", "^client__surname", "^client__email"]
    date_hierarchy = "completed_at"
    autocomplete_fields = ["client", "booking"]
    readonly_fields = ["status", "coupon", *TOTALS, "completed_at", "created_at", "created_by"]
    fieldsets = [
        (None, {"fields": ["client", "booking", "status", "coupon", "notes"]}),
        (_("Totals (computed)"), {"fields": TOTALS}),
        (_("History"), {"fields": ["completed_at", "created_at", "created_by"]}),
    ]
    inlines = [CartItemInline, PaymentInline]

    change_form_template = "admin/sales/cart/change_form.html"
    change_list_template = "admin/sales/cart/change_list.html"

    def get_urls(self):
        return [
            path("reports/", self.admin_site.admin_view(self.reports_view), name="sales_cart_reports"),
            path("<int:object_id>/checkout/", self.admin_site.admin_view(self.checkout_view),
                 name="sales_cart_checkout"),
            *super().get_urls(),
        ]  # fmt: skip

    def annotate_page(self, request, objects):
        # Summed for the shown sales only: over every sale it was a pass over all payments.
        paid = Payment.objects.filter(cart__in=objects).values("cart").annotate(paid=Sum("amount")).order_by()
        by_cart = {row["cart"]: row["paid"] for row in paid}
        for cart in objects:
            cart.amount_paid_sum = round_money(by_cart.get(cart.pk) or ZERO)

    def has_change_permission(self, request, obj=None):
        # A completed or cancelled sale is history: shown, never edited here.
        return super().has_change_permission(request, obj) and (obj is None or obj.status == CartStatus.OPEN)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == CartStatus.OPEN)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        if formset.model is CartItem:
            for item in formset.save(commit=False):
                # Placeholders until cart_reprice reads the catalogue, just below.
                item.name, item.unit_price = item.name or "…", item.unit_price if item.unit_price is not None else ZERO
                item.save()
            for item in formset.deleted_objects:
                item.delete()
            return
        super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.instance.status == CartStatus.OPEN:
            cart_reprice(cart=form.instance)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_check_out"] = bool(obj and obj.status == CartStatus.OPEN and self._may_sell(request))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _may_sell(self, request) -> bool:
        return request.user.has_perms(["sales.add_cart", "sales.change_cart"])

    @admin.display(description=_("paid"))
    def paid(self, obj):
        return format_money(getattr(obj, "amount_paid_sum", None) or ZERO)

    def checkout_view(self, request, object_id):
        """The till: the sale's lines (a bono session in place of any service a usable bono
        covers), several payments (gift cards by code), a tip, a coupon, a gift card to sell, or
        credit; every bono of the client shown with why it can or cannot be used."""
        cart = get_object_or_404(Cart.objects.select_related("client"), pk=object_id)
        if not self._may_sell(request):
            raise PermissionDenied
        change_url = reverse("admin:sales_cart_change", args=[cart.pk])
        if cart.status != CartStatus.OPEN:
            self.message_user(request, _("%(cart)s is not open; only an open sale can be checked out.") % {"cart": cart},
                              messages.WARNING)  # fmt: skip
            return redirect(change_url)
        bonos = bono_states(cart.client)
        data = request.POST or None
        form = TillForm(data, lines=cart_lines(cart), bonos=[state.client_bonus for state in bonos if state.usable])
        payments = PaymentFormSet(data, prefix="payment", initial=[{"method": PaymentMethod.CARD}])
        if request.method == "POST" and form.is_valid() and payments.is_valid():
            invoice = self._check_out(request, cart, form.cleaned_data, form.lines_to_sell(), payments)
            if invoice is not None:
                return redirect(reverse("admin:sales_invoice_change", args=[invoice.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Check out %(cart)s") % {"cart": cart},
            "opts": self.opts,
            "cart": cart,
            "items": cart.items.order_by("pk"),
            "form": form,
            "payments": payments,
            "bonos": bonos,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/sales/cart/till.html", context)

    def _check_out(self, request, cart, data, lines, payments):
        try:
            result = cart_checkout(
                cart=cart, lines=lines, payments=payments.payment_requests(on_credit=data["on_credit"]),
                coupon_code=data["coupon"] or None, on_credit=data["on_credit"], due_date=data["due_date"],
                tip=data["tip"] or ZERO, actor=request.user,
            )  # fmt: skip
        except DOMAIN_ERRORS as error:
            self.message_user(request, str(error), messages.ERROR)
            return None
        self.message_user(
            request,
            _("Sale completed: %(total)s, invoice %(number)s.")
            % {"total": format_money(result.cart.total), "number": result.invoice.number},
            messages.SUCCESS,
        )
        return result.invoice

    def reports_view(self, request):
        """The sales reports of a period (the last 30 days unless one is chosen), each table
        also as CSV (``?export=<table>``). MANAGER and ADMIN (``sales.report_sales``) only."""
        if not request.user.has_perm("sales.report_sales"):
            raise PermissionDenied
        today = timezone.localdate()
        form = ReportPeriodForm(request.GET if {"start", "end"} & set(request.GET) else None, today=today)
        start, end = form.period
        export = request.GET.get("export")
        if export is not None and export not in CSV_TABLES:
            raise Http404(_("There is no such report table."))
        report = sales_report_cached(today=today, start=start, end=end, refresh="refresh" in request.GET)
        if export is not None and not form.errors:
            return self._report_csv(request, report, export)
        # The links keep the chosen period; the default one needs no parameters.
        period = urlencode({"start": start, "end": end}) + "&" if form.is_bound and form.is_valid() else ""
        context = {
            **self.admin_site.each_context(request),
            "title": _("Sales reports"),
            "opts": self.opts,
            "report": report,
            "charts": chart_data(report),
            "form": form,
            "period": period,
        }
        return TemplateResponse(request, "admin/sales/reports.html", context)

    def _report_csv(self, request, report, table: str) -> HttpResponse:
        start, end = report["start"].isoformat(), report["end"].isoformat()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="sales-{table}-{start}-{end}.csv"'
        csv.writer(response).writerows(csv_table(report, table))
        audit_log(
            action="sales.report.exported", actor=request.user, ip_address=client_ip(request),
            detail={"table": table, "start": start, "end": end},
        )  # fmt: skip
        return response


@admin.register(CartItem)
class CartItemAdmin(MoneyFieldsAdmin, BigListMixin, AdminRoleOnlyWrites, admin.ModelAdmin):
    money_fields = LINE_MONEY
    list_display = ["name", "cart", "quantity", "unit_price", "tax_rate", "gross"]
    list_select_related = ["cart"]
    search_fields = ["name", "=cart__id"]
    raw_id_fields = ["cart"]
    autocomplete_fields = ["product", "service", "pack", "bonus", "client_bonus", "gift_card"]
    readonly_fields = ["net", "tax", "gross"]
    ordering = ["-pk"]  # newest first; the model's order (by sale) would sort every line


@admin.register(Payment)
class PaymentAdmin(MoneyFieldsAdmin, BigListMixin, AdminRoleOnlyWrites, admin.ModelAdmin):
    money_fields = ("amount",)
    list_display = ["cart", "method", "amount", "paid_at"]
    ordering = ["-paid_at", "-pk"]  # newest first, along the paid_at index
    list_filter = ["method"]
    list_select_related = ["cart"]
    search_fields = ["=cart__id"]
    raw_id_fields = ["cart"]
    autocomplete_fields = ["gift_card"]
    date_hierarchy = "paid_at"


class DebtPaymentInline(MoneyFieldsAdmin, ReadOnlyInline):
    model = DebtPayment
    money_fields = ("amount",)
    fields = ["amount", "method", "paid_at"]


@admin.register(Debt)
class DebtAdmin(MoneyFieldsAdmin, BigListMixin, admin.ModelAdmin):
    money_fields = ("amount", "remaining")
    list_display = ["__str__", "client", "amount", "remaining", "status", "due_date"]
    list_filter = [OverdueFilter, "status"]
    list_select_related = ["client"]
    search_fields = ["^client__name", "^client__surname", "^client__email"]
    autocomplete_fields = ["client"]
    raw_id_fields = ["cart"]
    date_hierarchy = "created_at"
    inlines = [DebtPaymentInline]
    change_form_template = "admin/sales/debt/change_form.html"

    def get_urls(self):
        pay = path("<int:object_id>/pay/", self.admin_site.admin_view(self.pay_view), name="sales_debt_pay")
        return [pay, *super().get_urls()]

    # A debt comes only from a credit sale and goes only by being paid: never added or deleted by
    # hand (nor imported, which needs the add permission).
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # What is owed moves only with payments (the "Record a payment" button).
        return ["remaining", "status"] + (["client", "cart", "amount"] if obj else [])

    def get_fields(self, request, obj=None):
        return ["client", "cart", "amount", "remaining", "status", "due_date", "notes"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.remaining = obj.amount
        super().save_model(request, obj, form, change)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_pay"] = bool(obj and obj.status != DebtStatus.PAID and self._may_take_payments(request))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _may_take_payments(self, request) -> bool:
        return request.user.has_perm("sales.add_debtpayment")

    def pay_view(self, request, object_id):
        debt = get_object_or_404(Debt, pk=object_id)
        if not self._may_take_payments(request):
            raise PermissionDenied
        change_url = reverse("admin:sales_debt_change", args=[debt.pk])
        form = DebtPayForm(request.POST or None, initial={"amount": debt.remaining})
        if request.method == "POST" and form.is_valid():
            try:
                payment = debt_pay(debt=debt, actor=request.user, **form.cleaned_data)
            except DOMAIN_ERRORS as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                debt.refresh_from_db()
                self.message_user(
                    request,
                    _("%(amount)s recorded; %(remaining)s remain.")
                    % {"amount": format_money(payment.amount), "remaining": format_money(debt.remaining)},
                    messages.SUCCESS,
                )
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Record a payment towards %(debt)s") % {"debt": debt},
            "opts": self.opts,
            "debt": debt,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/sales/debt/pay.html", context)


@admin.register(DebtPayment)
class DebtPaymentAdmin(MoneyFieldsAdmin, BigListMixin, AdminRoleOnlyWrites, admin.ModelAdmin):
    money_fields = ("amount",)
    list_display = ["debt", "amount", "method", "paid_at"]
    ordering = ["-paid_at", "-pk"]  # newest first, along the paid_at index
    list_filter = ["method"]
    list_select_related = ["debt"]
    raw_id_fields = ["debt"]
    date_hierarchy = "paid_at"
