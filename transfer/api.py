"""Exports through the API: ``GET …/export?format=csv|json`` on a resource's viewset streams
the whole filtered set. The domain apps' viewsets know nothing of it: the URL configuration
registers each one through ``exporting``, which adds the action."""

import json

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, renderers
from rest_framework.decorators import action

from beils.lib.net import client_ip
from transfer.exports import ExportError, export_stream


class _FileRenderer(renderers.BaseRenderer):
    """Lets ``?format=csv|json`` through DRF's content negotiation; the export streams itself."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


class CSVFileRenderer(_FileRenderer):
    media_type, format = "text/csv", "csv"


class JSONFileRenderer(_FileRenderer):
    media_type, format = "application/json", "json"


class StreamingExportMixin:
    """``GET …/export?format=csv|json``: the whole filtered set, streamed (MANAGER and ADMIN)."""

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["csv", "json"], description="Default csv.")],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/json"): OpenApiTypes.BINARY},
    )
    @action(detail=False, methods=["get"], renderer_classes=[CSVFileRenderer, JSONFileRenderer], pagination_class=None)
    def export(self, request, *args, **kwargs):
        if not request.user.has_perm("transfer.export_data"):
            raise exceptions.PermissionDenied(_("Only managers and admins may export data."))
        queryset = self.filter_queryset(self.get_queryset()).order_by("pk")
        try:
            return export_stream(
                queryset, fmt=request.query_params.get("format", "csv"), actor=request.user,
                ip_address=client_ip(request),
            )  # fmt: skip
        except ExportError as exc:
            raise exceptions.ValidationError({"format": [str(exc)]}) from exc


def exporting(viewset: type) -> type:
    """``viewset`` with the streamed ``export`` action (same name, so routes and the schema's
    operation ids stay those of the viewset)."""
    return type(viewset.__name__, (StreamingExportMixin, viewset), {"__module__": viewset.__module__})
