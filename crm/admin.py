from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

import crm.admin_merges  # noqa: F401  (registers the client merges' admin)
from beils.lib.admin import SoftDeleteAdmin
from beils.lib.changelists import BigListMixin
from beils.lib.history import HistoryAdmin
from beils.lib.models import Status
from beils.lib.net import client_ip
from crm.erasure import client_erase, client_erase_preview
from crm.gdpr import client_data_zip_file
from crm.models import (
    ApiToken,
    Client,
    ClientMergeRecord,
    Consent,
    ConsentStatus,
    ConsentType,
    CrmError,
    Questionnaire,
    Revoke,
    Role,
    User,
)
from crm.roles import permission_label
from crm.services import (
    api_token_revoke,
    client_merge,
    client_merge_preview,
    consent_revoke,
    consent_sign,
    user_role_audit,
)
from crm.story import client_story


class UserCreationForm(auth_forms.BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name", "surname", "role")


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(SoftDeleteAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ["email", "full_name", "role", "status", "last_login"]
    list_filter = ["role"]
    search_fields = ["email", "name", "surname"]
    ordering = ["name", "surname"]
    filter_horizontal = []
    readonly_fields = ["last_login", "created_at", "deactivated_at"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Person"), {"fields": ["name", "surname", "phone"]}),
        (_("Access"), {"fields": ["role", "status", "is_superuser"]}),
        (_("History"), {"fields": ["last_login", "created_at", "deactivated_at"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "surname", "role", "password1", "password2"]})
    ]

    # The model refuses to lose the last active ADMIN (CrmError) however it is asked; here the
    # refusal becomes a message on the page instead of a server error. Each of these views runs
    # its writes in a transaction, so nothing of the refused change is kept.
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._refusals_as_messages(request, super().changeform_view, request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._refusals_as_messages(request, super().delete_view, request, object_id, extra_context)

    def response_action(self, request, queryset):
        return self._refusals_as_messages(request, super().response_action, request, queryset)

    def _refusals_as_messages(self, request, view, *args):
        try:
            with transaction.atomic():
                return view(*args)
        except CrmError as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
            return redirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        previous = User.all_objects.filter(pk=obj.pk).values_list("role", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        user_role_audit(user=obj, previous_role=previous, actor=request.user, ip_address=client_ip(request))

    @admin.display(description=_("name"), ordering="name")
    def full_name(self, obj):
        return obj.get_full_name()


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """The role groups (crm/roles.py keeps ADMIN, MANAGER and STAFF in line with the policy).
    Their permissions are listed in the reader's language, not by the English names Django
    stored for them."""

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "permissions":
            field.label_from_instance = permission_label
        return field


# --- Clients ------------------------------------------------------------------------------


class ClientForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = "__all__"

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip().lower() or None
        if email:
            other = Client.all_objects.filter(email=email).exclude(pk=self.instance.pk).first()
            if other and other.status == Status.OFF:
                url = reverse("admin:crm_client_change", args=[other.pk])
                raise forms.ValidationError(
                    format_html(
                        gettext(
                            'A deactivated client, {client}, already has this email. <a href="{url}">Open and '
                            "reactivate them</a> instead of creating a duplicate."
                        ),
                        client=other,
                        url=url,
                    )
                )
        return email


class PossibleDuplicatesFilter(admin.SimpleListFilter):
    """Active clients sharing an email, a phone number or a document number with another one:
    select them and use "Merge selected clients"."""

    title = _("duplicates")
    parameter_name = "duplicates"

    def lookups(self, request, model_admin):
        return [("yes", _("Possible duplicates"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.possible_duplicates()
        return queryset


class MissingConsentFilter(admin.SimpleListFilter):
    """Clients booked for a service that requires a consent they have not signed (never had,
    unsigned or revoked): ask them to sign before the appointment."""

    title = _("missing a required consent")
    parameter_name = "missing_consent"

    def lookups(self, request, model_admin):
        return [("any", _("Any required consent")), *ConsentType.choices]

    def queryset(self, request, queryset):
        if self.value() == "any":
            return queryset.missing_required_consent()
        if self.value() in ConsentType.values:
            return queryset.missing_required_consent(self.value())
        return queryset


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    fields = ["kind", "status", "signed_at", "document_url", "document", "notes"]


class RevokeForm(forms.ModelForm):
    class Meta:
        model = Revoke
        fields = "__all__"

    def clean_consent(self):
        consent = self.cleaned_data.get("consent")
        if consent is not None and self.instance.pk is None and consent.status == ConsentStatus.REVOKED:
            raise forms.ValidationError(_("This consent is already revoked."))
        return consent


class RevokeInline(admin.TabularInline):
    model = Revoke
    form = RevokeForm
    extra = 0
    fields = ["consent", "reason", "revoked_at"]

    def get_formset(self, request, obj=None, **kwargs):
        self._client = obj
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "consent":
            # Only this client's own consents can be revoked from their page.
            client = getattr(self, "_client", None)
            kwargs["queryset"] = client.consents.all() if client else Consent.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class QuestionnaireInline(admin.StackedInline):
    model = Questionnaire
    extra = 0
    fields = ["title", "answers"]


@admin.register(Client)
class ClientAdmin(BigListMixin, SoftDeleteAdmin, HistoryAdmin):
    form = ClientForm
    change_form_template = "admin/crm/client/change_form.html"
    list_display = ["full_name", "email", "phone", "document", "city", "missing_consents", "created_at"]
    list_filter = [PossibleDuplicatesFilter, MissingConsentFilter, "gender", "document_type", "country"]
    # "Starts with", which the name, surname, e-mail and phone indexes serve (accents and case
    # aside: the collation ignores them); "contains" read all 100 000 clients on every keystroke
    # of an autocomplete.
    search_fields = ["^name", "^surname", "^email", "^phone", "=document_number"]
    date_hierarchy = "created_at"
    list_per_page = 50
    # With "pk" last Django adds no "-pk" of its own, and the (name, surname) index, which ends
    # in the primary key, gives the order without sorting 100 000 rows.
    ordering = ["name", "surname", "pk"]
    readonly_fields = ["created_at", "updated_at", "deactivated_at", "erased_at", "missing_consents"]
    fieldsets = [
        (None, {"fields": ["name", "surname", "email", "phone", "status", "missing_consents"]}),
        (_("Identity"), {"fields": ["gender", "birth_date", "document_type", "document_number"]}),
        (_("Address"), {"fields": ["address", "postal_code", "city", "country"], "classes": ["collapse"]}),
        (_("Notes"), {"fields": ["notes"]}),
        (
            _("History"),
            {"fields": ["created_at", "updated_at", "deactivated_at", "erased_at"], "classes": ["collapse"]},
        ),
    ]
    inlines = [ConsentInline, RevokeInline, QuestionnaireInline]
    actions = [*SoftDeleteAdmin.actions, "merge_selected", "export_personal_data", "erase_personal_data"]

    def has_gdpr_export_permission(self, request):
        """A GDPR access request is answered by MANAGER or ADMIN (``crm.export_client``)."""
        return request.user.has_perm("crm.export_client")

    def has_gdpr_erase_permission(self, request):
        """Erasure is irreversible: ADMIN only (``crm.erase_client``)."""
        return request.user.has_perm("crm.erase_client")

    def has_merge_permission(self, request):
        """Merging rewrites a person's history: ADMIN and MANAGER only."""
        user = request.user
        return self.has_change_permission(request) and (user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER))

    def annotate_page(self, request, objects):
        # For the shown clients only: annotating every client first made the list scan them all.
        missing = {f"missing_{kind}" for kind in ConsentType.values}
        rows = Client.all_objects.filter(pk__in=[c.pk for c in objects]).with_missing_consents().values("pk", *missing)
        by_pk = {row.pop("pk"): row for row in rows}
        for client in objects:
            for name, value in by_pk.get(client.pk, {}).items():
                setattr(client, name, value)

    def get_object(self, request, object_id, from_field=None):
        client = super().get_object(request, object_id, from_field)
        if client is not None:
            self.annotate_page(request, [client])
        return client

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            context["story"] = client_story(obj)
            if request.user.has_perm("crm.view_clientmergerecord"):
                context["merges"] = ClientMergeRecord.objects.involving(obj.pk)[:10]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Revoke:
            return super().save_formset(request, form, formset, change)
        # A new revocation revokes its consent in the same transaction, through the service.
        for revoke in formset.save(commit=False):
            if revoke.pk is None and revoke.consent_id:
                consent_revoke(
                    consent=revoke.consent, actor=request.user, reason=revoke.reason or "", when=revoke.revoked_at
                )
            else:
                revoke.save()
        for revoke in formset.deleted_objects:
            revoke.delete()
        return None

    def delete_view(self, request, object_id, extra_context=None):
        client = self.get_object(request, object_id)
        if client is not None and client.has_history():
            self.message_user(
                request,
                _(
                    "%(client)s has sales, bookings or debts, which are the salon's history and cannot be "
                    "deleted. Deactivate the client instead, or erase their personal data (GDPR erasure)."
                )
                % {"client": client},
                messages.ERROR,
            )
            return redirect("admin:crm_client_change", client.pk)
        return super().delete_view(request, object_id, extra_context)

    @admin.display(description=_("name"), ordering="name")
    def full_name(self, obj):
        return obj.full_name

    @admin.display(description=_("document"))
    def document(self, obj):
        return obj.masked_document

    @admin.display(description=_("missing consents"))
    def missing_consents(self, obj):
        """Consents required by services this client has booked and not signed (annotated by
        ``with_missing_consents``: no query per row)."""
        labels = [label for kind, label in ConsentType.choices if getattr(obj, f"missing_{kind}", False)]
        return ", ".join(str(label) for label in labels) or "—"

    @admin.action(description=_("Merge selected clients into one"), permissions=["merge"])
    def merge_selected(self, request, queryset):
        """First a page that previews the merge and asks which client to keep; its "Merge"
        button posts back here with ``confirm``."""
        clients = list(queryset.order_by("created_at", "pk"))
        if len(clients) < 2:
            self.message_user(request, _("Select at least two clients to merge."), messages.WARNING)
            return None
        chosen = request.POST.get("survivor")
        survivor = next((c for c in clients if str(c.pk) == chosen), clients[0])
        duplicates = [c for c in clients if c.pk != survivor.pk]
        try:
            if request.POST.get("confirm") == "yes":
                result = client_merge(survivor=survivor, duplicates=duplicates, actor=request.user)
                self.message_user(request, self._merged_message(survivor, result), messages.SUCCESS)
                return None
            preview = client_merge_preview(survivor=survivor, duplicates=duplicates)
        except CrmError as error:
            self.message_user(request, str(error), messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Merge clients"),
            "undo_days": settings.MERGE_UNDO_DAYS,
            "clients": clients,
            "survivor": survivor,
            "preview": preview,
            "moves": [(_verbose_name_plural(label), count) for label, count in preview.moved.items()],
            "filled_fields": [str(Client._meta.get_field(name).verbose_name) for name in preview.filled_fields],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "merge_selected",
        }
        return TemplateResponse(request, "admin/crm/client/merge_confirmation.html", context)

    @admin.action(description=_("Export personal data (GDPR)"), permissions=["gdpr_export"])
    def export_personal_data(self, request, queryset):
        """One client at a time: a ZIP of everything held about them (JSON, CSVs, checksums)."""
        clients = list(queryset[:2])
        if len(clients) != 1:
            self.message_user(request, _("Select exactly one client to export their data."), messages.WARNING)
            return None
        client = clients[0]
        archive = client_data_zip_file(client=client, actor=request.user, ip_address=client_ip(request))
        return FileResponse(archive, as_attachment=True, filename=f"client-{client.pk}-gdpr-export.zip")

    @admin.action(description=_("Erase personal data (GDPR)…"), permissions=["gdpr_erase"])
    def erase_personal_data(self, request, queryset):
        """One client at a time: a page previewing what is deleted and what is anonymised; its
        "Erase" button posts back here with ``confirm``."""
        clients = list(queryset[:2])
        if len(clients) != 1:
            self.message_user(request, _("Select exactly one client to erase their data."), messages.WARNING)
            return None
        client = clients[0]
        if request.POST.get("confirm") == "yes":
            plan = client_erase(client=client, actor=request.user, ip_address=client_ip(request))
            self.message_user(request, _erased_message(plan), messages.SUCCESS)
            return None
        plan = client_erase_preview(client=client)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Erase personal data"),
            "client": client,
            "plan": plan,
            "deleted": [(_verbose_name_plural(label), count) for label, count in plan.deleted.items()],
            "anonymised": [(_verbose_name_plural(label), count) for label, count in plan.anonymised.items()],
            "scrubbed": [(_verbose_name_plural(label), count) for label, count in plan.scrubbed.items()],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "erase_personal_data",
        }
        return TemplateResponse(request, "admin/crm/client/erase_confirmation.html", context)

    def _merged_message(self, survivor, result):
        rows = sum(result.moved.values())
        merged = ngettext(
            "%(count)d client merged into %(client)s",
            "%(count)d clients merged into %(client)s",
            len(result.merged_ids),
        ) % {"count": len(result.merged_ids), "client": survivor}
        moved = ngettext("%(rows)d record moved.", "%(rows)d records moved.", rows) % {"rows": rows}
        return gettext("%(merged)s; %(moved)s") % {"merged": merged, "moved": moved}


def _erased_message(plan) -> str:
    rows = sum(plan.deleted.values())
    values = {"id": plan.client_id, "rows": rows}
    if plan.client_deleted:
        return (
            ngettext(
                "Client #%(id)d erased: the client record was deleted, with %(rows)d personal record.",
                "Client #%(id)d erased: the client record was deleted, with %(rows)d personal records.",
                rows,
            )
            % values
        )
    return (
        ngettext(
            "Client #%(id)d erased: anonymised, sales and invoices kept; %(rows)d personal record deleted.",
            "Client #%(id)d erased: anonymised, sales and invoices kept; %(rows)d personal records deleted.",
            rows,
        )
        % values
    )


def _verbose_name_plural(label: str) -> str:
    return str(apps.get_model(label)._meta.verbose_name_plural)


@admin.register(Consent)
class ConsentAdmin(BigListMixin, HistoryAdmin):
    list_display = ["client", "kind", "status", "signed_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["client"]
    ordering = ["-created_at", "-pk"]  # newest first; the model's order (by client) sorts every consent
    search_fields = ["^client__name", "^client__surname", "^client__email"]
    autocomplete_fields = ["client"]
    date_hierarchy = "signed_at"
    actions = ["sign_selected"]

    @admin.action(description=_("Mark selected consents as signed now"), permissions=["change"])
    def sign_selected(self, request, queryset):
        """Unsigned consents only: a revoked one needs its new signed form (open it and upload)."""
        consents = list(queryset.filter(status=ConsentStatus.UNSIGNED))
        for consent in consents:
            consent_sign(consent=consent, actor=request.user)
        skipped = queryset.count() - len(consents)
        signed = len(consents)
        self.message_user(
            request,
            ngettext("%(count)d consent signed.", "%(count)d consents signed.", signed) % {"count": signed},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d consent left as it was: already signed, or revoked (a new signed form is needed).",
                    "%(count)d consents left as they were: already signed, or revoked (a new signed form is needed).",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


@admin.register(Revoke)
class RevokeAdmin(BigListMixin, admin.ModelAdmin):
    form = RevokeForm
    list_display = ["client", "consent", "revoked_at"]
    list_select_related = ["client", "consent"]
    search_fields = ["^client__name", "^client__surname", "^client__email"]
    autocomplete_fields = ["client", "consent"]
    date_hierarchy = "revoked_at"

    def save_model(self, request, obj, form, change):
        if change or obj.consent_id is None:
            return super().save_model(request, obj, form, change)
        # The form refused an already revoked consent; the service revokes it with the row.
        revoke = consent_revoke(consent=obj.consent, actor=request.user, reason=obj.reason or "", when=obj.revoked_at)
        obj.pk = revoke.pk
        return None


@admin.register(Questionnaire)
class QuestionnaireAdmin(BigListMixin, admin.ModelAdmin):
    list_display = ["title", "client", "created_at"]
    list_select_related = ["client"]
    search_fields = ["title", "^client__name", "^client__surname", "^client__email"]
    autocomplete_fields = ["client"]
    date_hierarchy = "created_at"


class TokenStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("valid", _("Valid")), ("expired", _("Expired"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "valid":
            return queryset.filter(Q(expiry__isnull=True) | Q(expiry__gt=now))
        if self.value() == "expired":
            return queryset.filter(expiry__lte=now)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens, for ADMIN only (crm/roles.py grants the model to no other role): who holds one,
    since when, until when, and a prefix to tell them apart. Never the secret (not stored) nor its
    digest. Revoking is deleting; tokens are issued by ``POST /api/auth/token`` or
    ``manage.py drf_create_token``, so that the secret reaches its owner and no one else."""

    list_display = ["prefix", "user", "created", "expiry"]
    list_select_related = ["user"]
    list_filter = [TokenStateFilter]
    search_fields = ["user__email", "user__name", "user__surname"]
    fields = ["user", "prefix", "created", "expiry"]
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        api_token_revoke(tokens=ApiToken.objects.filter(pk=obj.pk), actor=request.user, ip_address=client_ip(request))

    def delete_queryset(self, request, queryset):
        api_token_revoke(tokens=queryset, actor=request.user, ip_address=client_ip(request))

    @admin.display(description=_("prefix"))
    def prefix(self, obj):
        return f"{obj.prefix}…"
