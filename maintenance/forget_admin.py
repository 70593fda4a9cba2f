"""The admin's review list of forgetting on time: "Clients due to be forgotten" (Data care).

MANAGER and ADMIN see who is due and why (their latest activity); only a holder of
``crm.erase_client`` (ADMIN) may forget them, after a confirmation page that lists each one again.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from backups.locks import MaintenanceBusy
from beils.lib.net import client_ip
from crm.forgetting import last_activity
from maintenance.forget import (
    POLICY_CODE,
    ForgetError,
    clients_forget,
    forget_candidates,
    forget_policy,
    policy_in_force,
    refusal_text,
)
from maintenance.models import ForgettableClient

#: The most clients one request of the admin forgets (each erasure takes 30–40 ms at a group's size).
ADMIN_BATCH = 200


@admin.register(ForgettableClient)
class ForgettableClientAdmin(admin.ModelAdmin):
    """Read-only: the list is the rule's output; the one thing to do here is forget."""

    list_display = ["client_id", "full_name_column", "status", "last_activity_date", "last_activity_kind"]
    list_display_links = None
    search_fields = ["name", "surname", "email", "phone"]
    show_full_result_count = False
    ordering = ["pk"]
    actions = ["forget_selected"]

    def get_queryset(self, request):
        policy = _policy(request)
        if not policy.is_on:
            return ForgettableClient.all_objects.none()
        return ForgettableClient.all_objects.forgettable(before=policy.before())

    def changelist_view(self, request, extra_context=None):
        policy = _policy(request)
        if request.method == "GET":
            if policy.is_on:
                text = ngettext(
                    "Clients with no visit, purchase, debt or signed form for %(years)s year (%(days)s days), by the "
                    "retention policy “%(code)s”. An open debt, an upcoming booking or a usable bono or gift card "
                    "keeps a client off this list.",
                    "Clients with no visit, purchase, debt or signed form for %(years)s years (%(days)s days), by the "
                    "retention policy “%(code)s”. An open debt, an upcoming booking or a usable bono or gift card "
                    "keeps a client off this list.",
                    policy.days // 365 if policy.days % 365 == 0 else 2,
                )
                self.message_user(request, text % {"years": policy.years, "days": policy.days, "code": POLICY_CODE})
            else:
                try:
                    policy_in_force()
                except ForgetError as refusal:
                    self.message_user(request, str(refusal), messages.WARNING)
        title = capfirst(self.opts.verbose_name_plural)
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def response_action(self, request, queryset):
        # Django filters the changelist by the posted ids as they come: a word there would be a 500.
        if not all(value.isdigit() for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            self.message_user(request, _("Select clients from the list."), messages.WARNING)
            return redirect(request.get_full_path())
        return super().response_action(request, queryset)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # forgetting is an erasure, not a delete: the action below

    def has_forget_permission(self, request):
        return request.user.has_perm("crm.erase_client")

    @admin.display(description=gettext_lazy("ID"), ordering="pk")
    def client_id(self, client):
        return client.pk

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def full_name_column(self, client):
        return client.full_name

    @admin.display(description=gettext_lazy("last activity"))
    def last_activity_date(self, client):
        return formats.date_format(timezone.localtime(last_activity(client).when), "SHORT_DATE_FORMAT")

    @admin.display(description=gettext_lazy("what it was"))
    def last_activity_kind(self, client):
        return last_activity(client).label

    @admin.action(description=gettext_lazy("Forget (erase) selected clients…"), permissions=["forget"])
    def forget_selected(self, request, queryset):
        """A page listing each selected client and why; its button posts back with ``confirm``."""
        try:
            policy = policy_in_force()
        except ForgetError as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
            return None
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        ids = _ids(selected) if selected and request.POST.get("select_across") != "1" else None
        if ids is None:
            ids = list(queryset.values_list("pk", flat=True)[: ADMIN_BATCH + 1])
        if len(ids) > ADMIN_BATCH:
            # An erasure takes 30–40 ms a client: thousands would outlast the request.
            self.message_user(request, _("Forget at most %(count)s clients at a time here; for more, use "
                                         "“manage.py forget_clients”.") % {"count": ADMIN_BATCH}, messages.ERROR)  # fmt: skip
            return None
        before = policy.before()
        if request.POST.get("confirm") == "yes":
            return self._forget(request, before, ids)
        candidates = forget_candidates(before=before, ids=ids)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Forget these clients?"),
            "candidates": candidates,
            "not_due": len(set(ids) - {c.client_id for c in candidates}),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "forget_selected",
        }
        return TemplateResponse(request, "admin/maintenance/forgettableclient/forget_confirmation.html", context)

    def _forget(self, request, before, ids):
        try:
            result = clients_forget(before=before, ids=ids, actor=request.user, ip_address=client_ip(request))
        except MaintenanceBusy as busy:
            self.message_user(request, str(busy), messages.ERROR)
            return None
        count = len(result.forgotten)
        self.message_user(
            request,
            ngettext(
                "%(count)d client forgotten: personal data erased, invoices kept anonymised, recorded in the "
                "erasure ledger.",
                "%(count)d clients forgotten: personal data erased, invoices kept anonymised, recorded in the "
                "erasure ledger.",
                count,
            ) % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )  # fmt: skip
        for pk, reasons in result.refused.items():
            self.message_user(
                request,
                _("Client #%(id)s left alone: no longer due (%(why)s).") % {"id": pk, "why": refusal_text(reasons)},
                messages.WARNING,
            )
        return None


def _policy(request):
    """The policy in force, read once per request (the page and its list both need it)."""
    if not hasattr(request, "_forget_policy"):
        request._forget_policy = forget_policy()
    return request._forget_policy


def _ids(values: list[str]) -> list[int]:
    """The posted ids (numbers: ``response_action`` turned anything else away)."""
    return [int(value) for value in values if value.isdigit()]
