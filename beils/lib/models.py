"""Abstract bases shared by every app: timestamps, the demo-data marker and soft delete; and
``project_models``, the one list of Beils's own models."""

from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Status(models.TextChoices):
    ON = "ON", pgettext_lazy("status", "Active")
    OFF = "OFF", pgettext_lazy("status", "Inactive")


class BeilsModel(models.Model):
    """``created_at``/``updated_at`` everywhere, and ``is_demo`` on rows made by ``seed``.

    The marker lets ``cleanup --test-data`` find demo rows later without guessing from values.
    """

    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.prepare_to_save()
        super().save(*args, **kwargs)

    def prepare_to_save(self) -> None:
        """Normalise the row as it will be stored. ``save()`` calls it, and so do bulk writes
        (imports), which skip ``save()``: subclasses override this, not ``save()``, to keep both
        paths equal."""
        _nullify_blank_strings(self)


def _nullify_blank_strings(instance: models.Model) -> None:
    # Unknown is NULL, never '': a blank email must not collide with another blank email in a
    # unique index, and reports must be able to tell "unknown" from "empty".
    for attname in _nullable_text(type(instance)):
        value = getattr(instance, attname)
        if isinstance(value, str) and not value.strip():
            setattr(instance, attname, None)


@cache
def _nullable_text(model) -> tuple[str, ...]:
    return tuple(
        f.attname for f in model._meta.concrete_fields if f.null and isinstance(f, models.CharField | models.TextField)
    )


class SoftDeleteQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Status.ON)

    def inactive(self):
        return self.filter(status=Status.OFF)

    def deactivate(self) -> int:
        return self.filter(status=Status.ON).update(
            status=Status.OFF, deactivated_at=timezone.now(), updated_at=timezone.now()
        )

    def reactivate(self) -> int:
        return self.filter(status=Status.OFF).update(status=Status.ON, deactivated_at=None, updated_at=timezone.now())


class ActiveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    def get_queryset(self):
        return super().get_queryset().active()


AllObjectsManager = models.Manager.from_queryset(SoftDeleteQuerySet)


class SoftDeleteModel(BeilsModel):
    """Rows are deactivated (status OFF, with the time) instead of deleted.

    ``objects`` hides inactive rows, which is what staff expect when they pick a client or a
    product; ``all_objects`` sees everything. Django's own *default* and *base* managers are
    ``all_objects`` on purpose: Django uses the default manager for unique validation, foreign-key
    form fields, admin change pages and serialisation, and hiding rows there turns "edit an old
    booking of a deactivated client" into "Select a valid choice" and a duplicate email into an
    IntegrityError instead of a form error.
    """

    status = models.CharField(_("status"), max_length=3, choices=Status.choices, default=Status.ON)
    deactivated_at = models.DateTimeField(_("deactivated at"), null=True, blank=True, editable=False)

    # Declared first so that it is Django's default manager even where a child overrides Meta.
    all_objects = AllObjectsManager()
    objects = ActiveManager()

    class Meta:
        abstract = True
        default_manager_name = "all_objects"
        base_manager_name = "all_objects"

    def prepare_to_save(self) -> None:
        # Keep the timestamp consistent with the status however the status was changed
        # (admin form, import, API).
        if self.status == Status.OFF and self.deactivated_at is None:
            self.deactivated_at = timezone.now()
        elif self.status == Status.ON:
            self.deactivated_at = None
        super().prepare_to_save()

    @property
    def is_active_record(self) -> bool:
        return self.status == Status.ON

    def deactivate(self) -> None:
        if self.status == Status.OFF:
            return
        self.status, self.deactivated_at = Status.OFF, timezone.now()
        self.save(update_fields=["status", "deactivated_at", "updated_at"])

    def reactivate(self) -> None:
        if self.status == Status.ON:
            return
        self.status, self.deactivated_at = Status.ON, None
        self.save(update_fields=["status", "deactivated_at", "updated_at"])


def money(verbose_name, **kwargs) -> models.DecimalField:
    """A money column: Decimal with cents, never float."""
    kwargs.setdefault("max_digits", 12)
    kwargs.setdefault("decimal_places", 2)
    return models.DecimalField(verbose_name, **kwargs)


def tax_rate(verbose_name=None, **kwargs) -> models.DecimalField:
    kwargs.setdefault("default", Decimal("21.00"))
    return models.DecimalField(verbose_name or _("VAT rate (%)"), max_digits=5, decimal_places=2, **kwargs)


def project_models(*, include_auto_created: bool = False, exclude: Iterable[str] = ()) -> list[type[models.Model]]:
    """The models of Beils's own apps (not Django's nor third-party ones), in ``INSTALLED_APPS``
    order, leaving out the apps labelled in ``exclude``; with the auto-created many-to-many
    tables when ``include_auto_created``."""
    base, left_out = Path(settings.BASE_DIR).resolve(), set(exclude)
    found = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if config.label not in left_out and path.is_relative_to(base) and "site-packages" not in path.parts:
            found += list(config.get_models(include_auto_created=include_auto_created))
    return found
