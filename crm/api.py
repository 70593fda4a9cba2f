import json

from django.contrib.auth import authenticate, user_logged_in
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Outcome
from audit.services import audit_log
from beils.lib.api import (
    AtomicWritesMixin,
    BulkCreateMixin,
    SoftDeleteMixin,
    SoftDeletePermissions,
    bulk_create_schema,
    object_body,
    soft_delete_schema,
)
from beils.lib.net import client_ip
from crm.erasure import client_erase, client_erase_preview
from crm.gdpr import client_data_stream, client_data_zip_file
from crm.models import Client, Consent, Questionnaire, Revoke, User
from crm.serializers import (
    ClientSerializer,
    ConsentSerializer,
    QuestionnaireSerializer,
    RevokeSerializer,
    UserSerializer,
)
from crm.services import api_token_issue, user_role_audit


class CanExportClientData(permissions.BasePermission):
    message = gettext_lazy("Only managers and admins may export a client's personal data.")

    def has_permission(self, request, view):
        return request.user.has_perm("crm.export_client")


class CanEraseClientData(permissions.BasePermission):
    message = gettext_lazy("Only admins may erase a client's personal data.")

    def has_permission(self, request, view):
        return request.user.has_perm("crm.erase_client")


class ZipRenderer(renderers.BaseRenderer):
    """Lets ``?format=zip`` through DRF's content negotiation; errors are still JSON."""

    media_type, format = "application/zip", "zip"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


@soft_delete_schema
@extend_schema_view(create=bulk_create_schema(UserSerializer))
class UserViewSet(BulkCreateMixin, SoftDeleteMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    """Staff accounts. Only ADMIN may create or change them; DELETE deactivates (no login)."""

    queryset = User.all_objects.order_by("name", "surname", "pk")
    serializer_class = UserSerializer
    filterset_fields = ["role", "status"]
    search_fields = ["email", "name", "surname", "phone"]
    ordering_fields = ["name", "surname", "email", "role", "created_at", "last_login"]

    def perform_update(self, serializer):
        previous = serializer.instance.role
        super().perform_update(serializer)
        user_role_audit(
            user=serializer.instance, previous_role=previous, actor=self.request.user,
            ip_address=client_ip(self.request),
        )  # fmt: skip

    def perform_destroy(self, instance):
        if instance.pk == self.request.user.pk:
            raise exceptions.ValidationError({"detail": _("You cannot deactivate or delete your own account.")})
        super().perform_destroy(instance)


@soft_delete_schema
@extend_schema_view(create=bulk_create_schema(ClientSerializer))
class ClientViewSet(BulkCreateMixin, SoftDeleteMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    """Clients. Document numbers are masked in lists. DELETE deactivates; ``?hard=1`` deletes a
    client without history and answers 409 for one with sales, bookings or debts."""

    queryset = Client.all_objects.order_by("name", "surname", "pk")
    serializer_class = ClientSerializer
    filterset_fields = ["status", "gender", "document_type", "country", "city"]
    search_fields = ["name", "surname", "email", "phone", "=document_number"]
    ordering_fields = ["name", "surname", "email", "created_at", "birth_date"]

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "zip"], description="Default json.")],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "application/zip"): OpenApiTypes.BINARY},
        description="Everything held about the client (GDPR access request); `?format=zip` adds one CSV per "
        "section and a checksum manifest. MANAGER and ADMIN only; audited.",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="gdpr-export",
        renderer_classes=[renderers.JSONRenderer, ZipRenderer],
        permission_classes=[SoftDeletePermissions, CanExportClientData],
        pagination_class=None,
        filter_backends=[],
    )
    def gdpr_export(self, request, pk=None):
        client, ip_address = self.get_object(), client_ip(request)
        if request.query_params.get("format") != "zip":
            chunks = client_data_stream(client=client, actor=request.user, ip_address=ip_address)
            return StreamingHttpResponse(chunks, content_type="application/json")
        archive = client_data_zip_file(client=client, actor=request.user, ip_address=ip_address)
        return FileResponse(archive, as_attachment=True, filename=f"client-{client.pk}-gdpr-export.zip")

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
        description='GDPR erasure. `{"dry_run": true}` answers what would be deleted and anonymised; '
        '`{"confirm": true}` erases (any other body answers 400 with the preview). Personal data is '
        "deleted, sales and invoices stay anonymised, and the erasure is re-applied after any restore. "
        "ADMIN only; audited.",
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[SoftDeletePermissions, CanEraseClientData],
        pagination_class=None,
        filter_backends=[],
    )
    def erase(self, request, pk=None):
        client = self.get_object()
        body = object_body(request)
        if body.get("dry_run") is True:
            return Response({"erased": False, **client_erase_preview(client=client).as_detail()})
        if body.get("confirm") is not True:
            preview = client_erase_preview(client=client).as_detail()
            message = _('Erasure cannot be undone: send {"confirm": true} to erase, or {"dry_run": true} to preview.')
            return Response({"confirm": [message], "preview": preview}, status=400)
        plan = client_erase(client=client, actor=request.user, ip_address=client_ip(request))
        return Response({"erased": True, **plan.as_detail()})


class ConsentViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    # Newest first, along the created_at index; by client name it sorted every consent.
    queryset = Consent.objects.prefetch_related("client").order_by("-created_at", "-pk")
    serializer_class = ConsentSerializer
    filterset_fields = ["client", "kind", "status"]
    search_fields = ["client__name", "client__surname", "client__email"]
    ordering_fields = ["kind", "status", "signed_at", "created_at"]


class RevokeViewSet(
    AtomicWritesMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Revocations are a record: created (revoking the consent), never edited."""

    queryset = Revoke.objects.order_by("-revoked_at", "-pk")  # client and consent shown as ids
    serializer_class = RevokeSerializer
    filterset_fields = ["client", "consent"]
    search_fields = ["reason", "client__name", "client__surname"]
    ordering_fields = ["revoked_at", "created_at"]


class QuestionnaireViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Questionnaire.objects.prefetch_related("client").order_by("-created_at", "-pk")
    serializer_class = QuestionnaireSerializer
    filterset_fields = ["client"]
    search_fields = ["title", "client__name", "client__surname"]
    ordering_fields = ["title", "created_at"]


# --- API tokens -----------------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Bearer <token>`; it is shown only once.")
    expiry = serializers.DateTimeField(allow_null=True)


class LockedOut(exceptions.Throttled):
    default_detail = gettext_lazy("Too many failed logins for this e-mail from this address.")


class TokenObtainView(APIView):
    """``POST /api/auth/token`` with an e-mail and a password: a new API token and its expiry.

    It is a login like the admin's: django-axes counts every wrong password, a locked-out
    e-mail + address pair gets no token even with the right password, and both the issue and the
    refusal are audited (never the secret). A switched-off account gets no token.
    """

    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer, 400: None, 429: None})
    def post(self, request):
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        email = form.validated_data["email"].strip().lower()
        # The Django request: the one axes reads the address from and marks as locked out.
        django_request = request._request
        user = authenticate(django_request, username=email, password=form.validated_data["password"])
        address = getattr(django_request, "axes_ip_address", None) or client_ip(django_request)
        if user is None:
            locked = getattr(django_request, "axes_locked_out", False)
            # Answered here, in JSON: axes' middleware would swap the answer for its HTML page.
            django_request.axes_locked_out = False
            if not locked:
                # A lockout is already audited as crm.login.locked_out (crm/auth.py).
                audit_log(
                    action="crm.token.refused",
                    actor=email[:255],
                    ip_address=address,
                    outcome=Outcome.FAILURE,
                    detail={"reason": "credentials"},
                )
            if locked:
                raise LockedOut(
                    detail=_(
                        "Too many failed logins for this e-mail from this address: it is locked for now. "
                        "Try again later or ask an administrator to unlock it."
                    )
                )
            raise exceptions.ValidationError(
                {"detail": _("Wrong e-mail or password, or the account is deactivated: no token.")}
            )
        token, secret = api_token_issue(user=user, via="api", ip_address=address)
        # As a login does: axes forgets the failed attempts, last_login is recorded.
        user_logged_in.send(sender=user.__class__, request=django_request, user=user)
        return Response({"token": secret, "expiry": token.expiry}, status=status.HTTP_200_OK)
