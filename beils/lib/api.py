"""REST API building blocks shared by every app.

DRF imports this module (for the authentication classes named in settings) while its own views
are still loading, so nothing here may import ``rest_framework.views``, ``generics``, ``mixins``
or ``viewsets`` at module level: the viewset mixins below are plain classes.
"""

import codecs
import copy
import re

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from knox.auth import TokenAuthentication
from rest_framework import exceptions, parsers, permissions, serializers, status
from rest_framework.utils import json

from beils.lib.errors import DomainError
from beils.lib.models import Status

TRUE_VALUES = {"1", "true", "yes", "on"}
BULK_CREATE_LIMIT = 1000


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``, with tokens from ``POST /api/auth/token`` or
    ``manage.py drf_create_token`` (django-rest-knox: hashed at rest, expiring; the prefix is
    ``REST_KNOX["AUTH_HEADER_PREFIX"]``). The answer speaks the token's user's language: the
    language middleware ran before the token said who is asking."""

    def authenticate_credentials(self, token):
        user, auth_token = super().authenticate_credentials(token)
        language = getattr(user, "language", "")
        if language and translation.check_for_language(language):
            translation.activate(language)
        return user, auth_token


#: A JSON string, escapes included, for the depth count to step over.
JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest, counted without parsing it: Python's parser
    recurses once per level and fails with a RecursionError (a 500) on a few thousand."""
    depth = deepest = 0
    for bracket in JSON_BRACKET.finditer(JSON_STRING.sub('""', text)):
        if bracket.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a nesting limit (``API_MAX_JSON_DEPTH``): a deeper body is a 400
    that says so, as is any body that is not JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(_("The body is not %(encoding)s text.") % {"encoding": encoding}) from exc
        limit = settings.API_MAX_JSON_DEPTH
        if json_depth(text) > limit:
            raise exceptions.ParseError(
                _("JSON parse error - the body is nested deeper than %(limit)s levels.") % {"limit": limit}
            )
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc


def object_body(request) -> dict:
    """The request's body for an endpoint that takes one JSON object: anything else (a list, a
    number) is a 400, not an AttributeError further down."""
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"detail": _("The body must be a JSON object.")})
    return request.data


class RoleModelPermissions(permissions.DjangoModelPermissions):
    """Django's model permissions, with reading guarded by ``view`` too: a role that cannot see
    a model in the admin cannot list it through the API either."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def flag(request, name: str) -> bool:
    return request.query_params.get(name, "").strip().lower() in TRUE_VALUES


class SoftDeletePermissions(RoleModelPermissions):
    """Deactivating is a status change, as in the admin's "Deactivate" action: it needs
    ``change``. Only ``DELETE ?hard=1``, a real deletion, needs ``delete``."""

    def has_permission(self, request, view):
        self.soft_delete = request.method == "DELETE" and not flag(request, "hard")
        return super().has_permission(request, view)

    def get_required_permissions(self, method, model_cls):
        if method == "DELETE" and self.soft_delete:
            method = "PATCH"
        return super().get_required_permissions(method, model_cls)


def exception_handler(exc, context):
    """DRF's handler, plus the database's and the domain's refusals as client errors.

    A delete refused by a PROTECT/RESTRICT foreign key (a client with sales, a product sold on a
    ticket) is a 409 Conflict with the reason; a domain refusal (``CrmError``, ``SalesError``…)
    or a model ``ValidationError`` is a 400.
    """
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, models.ProtectedError | models.RestrictedError):
        exc = Conflict(exc.args[0] if exc.args else str(exc))
    elif isinstance(exc, IntegrityError):
        # A race the serializer's checks could not see (two requests creating the same code).
        exc = Conflict(_("The change conflicts with data already stored; reload and try again."))
    elif isinstance(exc, OverflowError):
        # SQLite refuses integers beyond 64 bits (an id of 10**20 in a filter): no such row.
        exc = exceptions.ValidationError({"detail": _("A number in the request is out of range.")})
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(serializers.as_serializer_error(exc))
    elif isinstance(exc, DomainError):
        exc = exceptions.ValidationError({"detail": str(exc)})
    return drf_exception_handler(exc, context)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _lazy("The request conflicts with the current state of the record.")
    default_code = "conflict"


# --- Serializers ----------------------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "enum": list(Status.values), "description": "ON = active, OFF = deactivated"},
    component_name="ActiveStatus",
)
class ActiveStatusField(serializers.ChoiceField):
    """The ON/OFF status of a soft-delete model, one named enum in the OpenAPI schema (every
    app's ``status`` otherwise collides in the schema's enum names)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(choices=Status.choices, **kwargs)


class ModelConstraintsMixin:
    """Check the model's ``Meta.constraints`` (CHECKs and composite UNIQUEs) before saving, so
    that a value the database would refuse is a 400 with the constraint's message, not a 500.

    Put it before ``serializers.ModelSerializer`` in the bases.
    """

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        candidate = copy.copy(self.instance) if self.instance is not None else model()
        concrete = {f.name for f in model._meta.concrete_fields}
        for name, value in attrs.items():
            if name in concrete:
                setattr(candidate, name, value)
        try:
            candidate.validate_constraints()
        except DjangoValidationError as error:
            raise exceptions.ValidationError(serializers.as_serializer_error(error)) from error
        return attrs


# --- Viewsets -------------------------------------------------------------------------------


class AtomicWritesMixin:
    """Every write in a transaction of its own (a savepoint inside a request's transaction)."""

    def perform_create(self, serializer):
        with transaction.atomic():
            super().perform_create(serializer)

    def perform_update(self, serializer):
        with transaction.atomic():
            super().perform_update(serializer)

    def perform_destroy(self, instance):
        with transaction.atomic():
            super().perform_destroy(instance)


INCLUDE_INACTIVE = OpenApiParameter(
    "include_inactive", bool, description="Also list deactivated rows (status OFF); `?status=OFF` lists only them."
)
HARD_DELETE = OpenApiParameter(
    "hard",
    bool,
    description="Delete the row instead of deactivating it (needs the delete permission; 409 while "
    "other records point at it).",
)
ERROR_RESPONSE = {"type": "object", "properties": {"detail": {"type": "string"}}}


class SoftDeleteMixin:
    """For models with status ON/OFF (decorate the viewset with ``@soft_delete_schema``): lists show active rows unless ``?status=OFF`` or
    ``?include_inactive=1`` asks otherwise; retrieve and update see every row (so an inactive
    row can be reactivated with ``PATCH {"status": "ON"}``); DELETE deactivates (204), and only
    ``DELETE ?hard=1`` deletes, refused with 409 while other records point at the row."""

    permission_classes = [SoftDeletePermissions]

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if self.action == "list" and "status" not in params and not flag(self.request, "include_inactive"):
            queryset = queryset.filter(status=Status.ON)
        return queryset

    def perform_destroy(self, instance):
        if flag(self.request, "hard"):
            return super().perform_destroy(instance)
        instance.deactivate()


class BulkCreateMixin:
    """``POST`` takes one object or a list of them. A list is created all or nothing: if any
    item is invalid nothing is written and the answer is 400 with
    ``{"errors": [{"index": i, "<field>": [...]}, ...]}``."""

    def create(self, request, *args, **kwargs):
        from rest_framework.response import Response

        if not isinstance(request.data, list):
            return super().create(request, *args, **kwargs)
        items = request.data
        if not items or len(items) > BULK_CREATE_LIMIT:
            raise exceptions.ValidationError(
                {"detail": _("Send between 1 and %(limit)s objects in one request.") % {"limit": BULK_CREATE_LIMIT}}
            )
        created, errors = [], []
        with transaction.atomic():
            # Saved one by one, so that an item duplicating an earlier one of the same list is
            # reported by the uniqueness checks instead of failing in the database.
            for index, item in enumerate(items):
                serializer = self.get_serializer(data=item)
                if serializer.is_valid():
                    self.perform_create(serializer)
                    created.append(serializer.data)
                else:
                    errors.append({"index": index, **serializer.errors})
            if errors:
                transaction.set_rollback(True)
        if errors:
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(created, status=status.HTTP_201_CREATED)


def bulk_create_schema(serializer_class):
    """``extend_schema`` for a ``create`` that takes one object or a list (``BulkCreateMixin``)."""
    ref = {"$ref": f"#/components/schemas/{serializer_class.__name__.removesuffix('Serializer')}"}
    many = {"type": "array", "items": ref, "minItems": 1, "maxItems": BULK_CREATE_LIMIT}
    errors = {"type": "object", "properties": {"errors": {"type": "array", "items": {"type": "object"}}}}
    return extend_schema(
        request={"application/json": {"oneOf": [ref, many]}},
        responses={201: {"oneOf": [ref, many]}, 400: errors},
        description="One object, or a list of objects created all or nothing.",
    )


def soft_delete_schema(viewset):
    """Document ``SoftDeleteMixin``'s query parameters. A decorator applied by each app, because
    ``extend_schema`` reads DRF settings, which cannot happen while this module is imported."""
    return extend_schema_view(
        list=extend_schema(parameters=[INCLUDE_INACTIVE]),
        destroy=extend_schema(parameters=[HARD_DELETE], responses={204: None, 409: ERROR_RESPONSE}),
    )(viewset)
