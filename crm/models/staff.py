"""Staff accounts (``User``, the ``AUTH_USER_MODEL``) and their API tokens."""

from collections import Counter

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import Group, PermissionsMixin
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken, AuthTokenManager

from beils.lib.models import SoftDeleteModel, SoftDeleteQuerySet, Status
from crm.models.errors import CrmError

# --- Staff accounts -----------------------------------------------------------------------


class Role(models.TextChoices):
    ADMIN = "ADMIN", _("Admin")
    MANAGER = "MANAGER", _("Manager")
    STAFF = "STAFF", _("Staff")

    @property
    def group_name(self) -> str:  # "Admin", "Manager", "Staff": never translated
        return self.value.capitalize()


LAST_ADMIN_MESSAGE = _(
    "This change would leave no active ADMIN, and then nobody could manage staff accounts. "
    "Make another account an active ADMIN first."
)


def _unseats_admins(values: dict) -> bool:
    """Would writing these column values take an active ADMIN out of office?"""
    return ("role" in values and values["role"] != Role.ADMIN) or ("status" in values and values["status"] != Status.ON)


class UserQuerySet(SoftDeleteQuerySet):
    def with_role(self, role: Role):
        return self.filter(role=role)

    def active_admins(self):
        return self.filter(role=Role.ADMIN, status=Status.ON)

    def refuse_losing_the_last_admin(self, losing) -> None:
        """Raise ``CrmError`` if the users ``losing`` (pks) are every active ADMIN there is.

        Every write that can demote, switch off or delete a staff account calls this inside its
        transaction, before writing. It locks the active ADMIN rows (in pk order, so two callers
        queue instead of deadlocking): two ADMINs demoting each other at the same moment are
        serialised, and the second one sees that the first has already stepped down.
        """
        admins = set(
            self.model.all_objects.using(self.db)
            .select_for_update()
            .active_admins()
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # With no active ADMIN at all (a fresh database) there is nobody left to lose.
        if admins and admins <= set(losing):
            raise CrmError(LAST_ADMIN_MESSAGE)

    def indispensable_admins(self) -> list[int]:
        """The active ADMINs among these rows when they are every active ADMIN there is: bulk
        policies (archiving idle accounts, cleaning up demo data) leave them alone rather than
        fail or lock everyone out of user management."""
        mine = set(self.active_admins().values_list("pk", flat=True))
        every = set(self.model.all_objects.using(self.db).active_admins().values_list("pk", flat=True))
        return sorted(mine) if mine and mine == every else []

    def _guarded(self, write):
        with transaction.atomic(using=self.db):
            self.refuse_losing_the_last_admin(self.active_admins().values_list("pk", flat=True))
            return write()

    def update(self, **kwargs):
        """A bulk change that would unseat the last active ADMIN is refused; a bulk change of
        role, or of status to OFF, takes the people's API tokens with it, as ``save()`` does:
        ``update()`` skips ``save()``, and a token must never outlive the rights it was issued
        with."""
        deactivating = "status" in kwargs and kwargs["status"] != Status.ON
        if "role" not in kwargs and not deactivating:
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            if _unseats_admins(kwargs):
                self.refuse_losing_the_last_admin(self.active_admins().values_list("pk", flat=True))
            affected = self if deactivating else self.exclude(role=kwargs["role"])
            ids = list(affected.values_list("pk", flat=True))
            count = super().update(**kwargs)
            ApiToken.objects.revoke_for(user_ids=ids, reason="deactivated" if deactivating else "role_changed")
        return count

    def delete(self):
        return self._guarded(lambda: super(UserQuerySet, self).delete())

    def bulk_update(self, objs, fields, batch_size=None):
        objs = list(objs)
        losing = [o.pk for o in objs if _unseats_admins({f: getattr(o, f) for f in fields if f in ("role", "status")})]
        if not losing:
            return super().bulk_update(objs, fields, batch_size=batch_size)
        with transaction.atomic(using=self.db):
            self.refuse_losing_the_last_admin(losing)
            return super().bulk_update(objs, fields, batch_size=batch_size)

    # As on QuerySet: templates never call these, and managers get no ``delete()``.
    update.alters_data = delete.alters_data = bulk_update.alters_data = True
    delete.queryset_only = True

    def deactivate(self) -> int:
        # is_active/is_staff are what Django's login checks: they move with the status.
        return self.filter(status=Status.ON).update(
            status=Status.OFF, deactivated_at=timezone.now(), updated_at=timezone.now(), is_active=False, is_staff=False
        )

    def reactivate(self) -> int:
        return self.filter(status=Status.OFF).update(
            status=Status.ON, deactivated_at=None, updated_at=timezone.now(), is_active=True, is_staff=True
        )


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError(gettext("Staff accounts need an email address to log in."))
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("role", Role.ADMIN)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class ActiveUserManager(UserManager):
    def get_queryset(self):
        return super().get_queryset().active()


class Language(models.TextChoices):
    """The languages of ``settings.LANGUAGES`` (tests/crm/test_models.py keeps the two lists
    equal), named in the reader's language as Django names languages."""

    SPANISH = "es", _("Spanish")
    ENGLISH = "en", _("English")


class User(AbstractBaseUser, PermissionsMixin, SoftDeleteModel):
    """A staff account. Clients never log in; they are :class:`Client` rows."""

    email = models.EmailField(_("email"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    surname = models.CharField(_("surname"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=30, null=True, blank=True)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=Language.choices,
        blank=True,
        help_text=_("The language Beils speaks to this user; empty for the salon's language."),
    )
    # Derived from status on save: Django's auth backends and password reset read these columns.
    is_active = models.BooleanField(_("can log in"), default=True, editable=False)
    is_staff = models.BooleanField(_("can use the admin"), default=True, editable=False)

    all_objects = UserManager()
    objects = ActiveUserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta(SoftDeleteModel.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["name", "surname"]
        constraints = [models.CheckConstraint(condition=~Q(email=""), name="crm_user_email_not_blank")]

    def __str__(self):
        return f"{self.get_full_name()} <{self.email}>"

    def get_full_name(self) -> str:
        return f"{self.name} {self.surname}".strip()

    def get_short_name(self) -> str:
        return self.name

    def prepare_to_save(self) -> None:
        self.email = (self.email or "").strip().lower()
        self.is_active = self.is_staff = self.status == Status.ON
        super().prepare_to_save()

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "status" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_active", "is_staff"}
        # Read from the database, not from the instance: whichever path saves (admin, API,
        # import, shell), a token must not outlive the status or role it was issued under.
        watched = update_fields is None or {"status", "role"} & set(update_fields)
        before = None
        if watched and self.pk is not None:
            before = User.all_objects.filter(pk=self.pk).values("status", "role").first()
        with transaction.atomic(using=kwargs.get("using") or self._state.db):
            if self._may_be_stepping_down(update_fields):
                User.all_objects.refuse_losing_the_last_admin([self.pk])
            super().save(*args, **kwargs)
            if before and before["status"] == Status.ON and self.status != Status.ON:
                ApiToken.objects.revoke_for(user_ids=[self.pk], reason="deactivated")
            elif before and before["role"] != self.role:
                ApiToken.objects.revoke_for(user_ids=[self.pk], reason="role_changed")
        if update_fields is None or "role" in update_fields:
            self.sync_role_group()

    def _may_be_stepping_down(self, update_fields) -> bool:
        if self.pk is None or (update_fields is not None and not {"role", "status"} & set(update_fields)):
            return False
        return self.role != Role.ADMIN or self.status != Status.ON

    def delete(self, *args, **kwargs):
        with transaction.atomic(using=kwargs.get("using") or self._state.db):
            User.all_objects.refuse_losing_the_last_admin([self.pk])
            return super().delete(*args, **kwargs)

    def sync_role_group(self) -> None:
        """Make the user a member of exactly the group of their role."""
        group = Group.objects.get_or_create(name=Role(self.role).group_name)[0]
        current = set(self.groups.values_list("pk", flat=True))
        if current != {group.pk}:
            self.groups.set([group])


class ApiTokenManager(AuthTokenManager):
    """knox's manager (``create`` returns the row and the secret, which is never stored), plus
    revocation."""

    def revoke_for(self, *, user_ids, reason: str) -> int:
        """Delete every token of these people; one audit entry per person who had any."""
        from audit.services import audit_log

        held = Counter(self.filter(user_id__in=list(user_ids)).values_list("user_id", flat=True))
        if not held:
            return 0
        self.filter(user_id__in=held).delete()
        for user in User.all_objects.filter(pk__in=held):
            audit_log(action="crm.token.revoked", target=user, detail={"count": held[user.pk], "reason": reason})
        return sum(held.values())


class ApiToken(AbstractAuthToken):
    """An API token (django-rest-knox): only a SHA-512 digest of the secret is stored, with the
    first characters of the secret (``token_key``) to find the row. It expires after
    ``API_TOKEN_TTL_HOURS`` and is deleted when its person is deactivated or changes role.

    A numeric primary key, unlike knox's own model, so that admin URLs never carry the digest.
    """

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(_("digest"), max_length=128, unique=True, editable=False)
    token_key = models.CharField(_("token key"), max_length=25, db_index=True, editable=False)
    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="auth_token_set", editable=False
    )
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    expiry = models.DateTimeField(_("expires"), null=True, blank=True)

    objects = ApiTokenManager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created"]

    def __str__(self):
        # Never the digest (knox's own __str__): this lands in audit entries and admin pages.
        return _("API token %(prefix)s… of %(user)s") % {"prefix": self.prefix, "user": self.user.email}

    @property
    def prefix(self) -> str:
        """The first 8 characters of the secret: enough to tell tokens apart, 224 bits short of
        being usable."""
        return self.token_key[:8]
