"""REST API building blocks shared by every app."""

from rest_framework import permissions
from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``, with tokens from ``manage.py drf_create_token``."""

    keyword = "Bearer"


class RoleModelPermissions(permissions.DjangoModelPermissions):
    """Django's model permissions, with reading guarded by ``view`` too: a role that cannot see
    a model in the admin cannot list it through the API either."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }
