"""Kept apart from beils.lib.api: DRF imports that module while its own views load."""

from rest_framework.routers import DefaultRouter


class OptionalSlashRouter(DefaultRouter):
    """Every route answers with or without a trailing slash (``/api/clients`` and ``/api/clients/``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"
