"""The OpenAPI schema and its Swagger UI, for signed-in people only once ``DEBUG`` is off.

The schema is a map of every endpoint, filter and field: useful to an attacker probing the
site, so production shows it to staff (session or Bearer token) and to no one else.
"""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions, permissions


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <token>`` in the schema (drf-spectacular's knox extension matches
    knox's class only, not our subclass); named as DRF's token scheme was, for existing clients."""

    target_class = "beils.lib.api.BearerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106 (a scheme name, not a secret)


class SignedInUnlessDebug(permissions.BasePermission):
    """Read at each request, not at import: a test (or a shell) may switch ``DEBUG``."""

    def has_permission(self, request, view):
        return settings.DEBUG or bool(request.user and request.user.is_authenticated)


class SchemaView(SpectacularAPIView):
    permission_classes = [SignedInUnlessDebug]


class DocsView(SpectacularSwaggerView):
    """A person opening the docs in a browser is sent to the admin's login, then back."""

    permission_classes = [SignedInUnlessDebug]

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            return redirect_to_login(self.request.get_full_path(), reverse("admin:login"))
        return super().handle_exception(exc)
