from collections import Counter

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import Group, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, Exists, OuterRef, Q, Value
from django.db.models.functions import Length, Lower, Replace, Right, Trim, Upper
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken, AuthTokenManager
from simple_history.models import HistoricalRecords

from beils.lib.errors import DomainError
from beils.lib.models import ActiveManager, AllObjectsManager, BeilsModel, SoftDeleteModel, SoftDeleteQuerySet, Status


class CrmError(DomainError):
    """A refusal of the crm domain, worded for the staff member who caused it."""


class ClientHasHistory(models.ProtectedError, CrmError):
    """Deleting a client with sales, bookings or debts would destroy business history."""


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


# --- Clients ------------------------------------------------------------------------------


class Gender(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    OTHER = "X", _("Other / not stated")


class DocumentType(models.TextChoices):
    DNI = "DNI", _("DNI")
    NIE = "NIE", _("NIE")
    PASSPORT = "PASSPORT", _("Passport")


class ClientQuerySet(SoftDeleteQuerySet):
    def search(self, term: str):
        return self.filter(
            Q(name__icontains=term) | Q(surname__icontains=term) | Q(email__icontains=term) | Q(phone__icontains=term)
        )

    def with_history(self):
        """Clients that have sales, bookings or debts: they may be deactivated or erased only."""
        history = Q(carts__isnull=False) | Q(bookings__isnull=False) | Q(debts__isnull=False)
        return self.filter(history | Q(archived_carts__isnull=False)).distinct()

    def with_match_keys(self):
        """Annotate the keys duplicates are found by (see :data:`DUPLICATE_KEYS`)."""
        return self.annotate(**{name: expression() for name, expression in DUPLICATE_KEYS.items()})

    def possible_duplicates(self):
        """Clients sharing an email, a phone number (ignoring spaces, dots, dashes and a country
        prefix) or a document number with another *active* client. Deactivated clients are left
        out, so a merged client stops matching the one it was merged into."""
        groups = Client.objects.with_match_keys()
        matches = Q()
        for key, shortest in DUPLICATE_KEY_MIN_LENGTH.items():
            usable = groups.alias(key_length=Length(key)).filter(key_length__gte=shortest)
            shared = usable.values(key).annotate(n=Count("pk")).filter(n__gt=1).values(key)
            matches |= Q(**{f"{key}__in": shared})
        return self.with_match_keys().filter(matches)

    def missing_required_consent(self, kind: str | None = None):
        """Clients with a booking (not cancelled) for a service that requires a consent type
        they have not signed (never had, unsigned or revoked). One EXISTS subquery; ``kind``
        narrows it to one consent type."""
        return self.filter(Exists(_bookings_needing_consent(kind)))

    def with_missing_consents(self):
        """Annotate ``missing_<TYPE>`` (a boolean per consent type), for a column that says what
        is missing without a query per row."""
        return self.annotate(
            **{f"missing_{kind}": Exists(_bookings_needing_consent(kind)) for kind in ConsentType.values}
        )

    def duplicates_of(self, client: "Client"):
        """The other active clients that share a match key with ``client``."""
        keyed = Client.all_objects.with_match_keys().get(pk=client.pk)
        matches = Q()
        for key, shortest in DUPLICATE_KEY_MIN_LENGTH.items():
            if len(getattr(keyed, key) or "") >= shortest:
                matches |= Q(**{key: getattr(keyed, key)})
        if not matches:
            return self.none()
        return self.active().with_match_keys().filter(matches).exclude(pk=client.pk)


def _strip(expression, characters: str):
    for character in characters:
        expression = Replace(expression, Value(character), Value(""))
    return expression


def _phone_key():
    # The last nine digits: Spanish numbers have nine, so +34 600 111 222, 0034600111222 and
    # 600-111-222 are one number. Shorter strings are not phone numbers worth matching.
    digits = _strip("phone", " .-()/+")
    return Right(digits, 9)


DUPLICATE_KEYS = {
    "email_key": lambda: Lower(Trim("email")),
    "phone_key": _phone_key,
    "document_key": lambda: Upper(_strip("document_number", " .-")),
}
#: Shorter keys ("-", "0", a two-digit phone) are typing noise, not identities.
DUPLICATE_KEY_MIN_LENGTH = {"email_key": 3, "phone_key": 6, "document_key": 4}


def not_in_future(value) -> None:
    """Birth dates: the model's rule (admin, API, import). The database has its own guard, a
    trigger (crm/migrations/0006), for writes that skip validation."""
    if value is not None and value > timezone.localdate():
        raise ValidationError(_("A birth date cannot be in the future."), code="future")


class Client(SoftDeleteModel):
    """A salon client. Optional personal fields are NULL when unknown, never ''."""

    name = models.CharField(_("name"), max_length=100)
    surname = models.CharField(_("surname"), max_length=150, null=True, blank=True)
    email = models.EmailField(_("email"), null=True, blank=True, unique=True)
    phone = models.CharField(_("phone"), max_length=30, null=True, blank=True)
    address = models.CharField(_("address"), max_length=255, null=True, blank=True)
    city = models.CharField(_("city"), max_length=100, null=True, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, null=True, blank=True)
    country = models.CharField(_("country"), max_length=2, null=True, blank=True, help_text=_("ISO code, e.g. ES"))
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, null=True, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True, validators=[not_in_future])
    document_type = models.CharField(
        _("document type"), max_length=10, choices=DocumentType.choices, null=True, blank=True
    )
    document_number = models.CharField(_("document number"), max_length=30, null=True, blank=True)
    notes = models.TextField(_("notes"), null=True, blank=True)
    legacy_id = models.CharField(_("legacy id"), max_length=100, null=True, blank=True, unique=True, editable=False)
    erased_at = models.DateTimeField(
        _("erased at"), null=True, blank=True, editable=False, help_text=_("When the personal data was erased (GDPR)")
    )

    all_objects = AllObjectsManager.from_queryset(ClientQuerySet)()
    objects = ActiveManager.from_queryset(ClientQuerySet)()
    # Field-level history; GDPR erasure scrubs it with beils.lib.history.history_scrub.
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta(SoftDeleteModel.Meta):
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["name", "surname"]
        indexes = [
            models.Index(fields=["name", "surname"], name="crm_client_name_surname"),  # the list's order
            models.Index(fields=["surname", "name"], name="crm_client_surname_name"),
            models.Index(fields=["phone"], name="crm_client_phone"),
            models.Index(fields=["document_number"], name="crm_client_document"),
            models.Index(fields=["status", "created_at"], name="crm_client_status_created"),
            models.Index(fields=["country"], name="crm_client_country"),  # the list's country filter
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(email=""), name="crm_client_email_not_blank"),
            models.CheckConstraint(
                condition=Q(document_number__isnull=True) | Q(document_type__isnull=False),
                name="crm_client_document_has_type",
            ),
        ]
        permissions = [
            ("export_client", _("Can export client data (GDPR access request)")),
            ("erase_client", _("Can erase a client's personal data (GDPR)")),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.name} {self.surname or ''}".strip()

    @property
    def masked_document(self) -> str:
        """The document number with all but the last three characters hidden, for lists."""
        if not self.document_number:
            return ""
        visible = self.document_number[-3:]
        return "•" * max(len(self.document_number) - 3, 3) + visible

    def prepare_to_save(self) -> None:
        if self.email:
            self.email = self.email.strip().lower()
        super().prepare_to_save()

    def has_history(self) -> bool:
        return self.carts.exists() or self.bookings.exists() or self.debts.exists() or self.archived_carts.exists()

    def delete(self, *args, **kwargs):
        if self.has_history():
            raise ClientHasHistory(
                gettext(
                    "%(client)s has sales, bookings or debts, which are the salon's business history and "
                    "cannot be deleted. Deactivate the client instead, or erase their personal data "
                    "(GDPR erasure) to keep the records anonymised."
                )
                % {"client": self},
                set(),
            )
        return super().delete(*args, **kwargs)


# --- Consents and health data ---------------------------------------------------------------


class ConsentType(models.TextChoices):
    DATA_PROTECTION = "LGPD", _("Data protection (GDPR)")
    INDIBA = "INDIBA", _("INDIBA treatment")
    LASER = "LASER", _("Laser treatment")
    IMAGE_RIGHTS = "IMAGE", _("Photos and image rights")
    MARKETING = "MARKETING", _("Marketing communications")


class ConsentStatus(models.TextChoices):
    UNSIGNED = "UNSIGNED", _("Unsigned")
    SIGNED = "SIGNED", _("Signed")
    REVOKED = "REVOKED", _("Revoked")


class ConsentQuerySet(models.QuerySet):
    def signed(self):
        return self.filter(status=ConsentStatus.SIGNED)


class Consent(BeilsModel):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents", verbose_name=_("client"))
    kind = models.CharField(_("type"), max_length=20, choices=ConsentType.choices)
    status = models.CharField(_("status"), max_length=10, choices=ConsentStatus.choices, default=ConsentStatus.UNSIGNED)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    document_url = models.URLField(_("document URL"), null=True, blank=True)
    document = models.FileField(_("signed document"), upload_to="consents/%Y/", null=True, blank=True)
    notes = models.TextField(_("notes"), null=True, blank=True)

    objects = ConsentQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["client", "kind"]
        indexes = [models.Index(fields=["signed_at"], name="crm_consent_signed_at")]
        constraints = [
            models.UniqueConstraint(fields=["client", "kind"], name="crm_consent_one_per_client_and_type"),
            models.CheckConstraint(
                condition=~Q(status=ConsentStatus.SIGNED) | Q(signed_at__isnull=False),
                name="crm_consent_signed_has_date",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.get_status_display()}"

    def sign(self, *, when=None, document=None, document_url: str | None = None) -> None:
        """UNSIGNED → SIGNED, with the signed form as an uploaded file or a URL.

        A revoked consent is signed again only with a *new* signed form (a new file, or a URL other
        than the one revoked): the client's revocation must not be undone by a click. The consent
        stays one row per client and type; its revocations stay linked to it and its history keeps
        the earlier signature."""
        if self.status == ConsentStatus.SIGNED:
            raise CrmError(gettext("%(consent)s is already signed.") % {"consent": self.get_kind_display()})
        is_new_form = bool(document) or bool(document_url and document_url != self.document_url)
        if self.status == ConsentStatus.REVOKED and not is_new_form:
            raise CrmError(
                gettext("%(consent)s was revoked: attach the newly signed form to record a new consent.")
                % {"consent": self.get_kind_display()}
            )
        if document:
            self.document = document
        if document_url:
            self.document_url = document_url
        self.status, self.signed_at = ConsentStatus.SIGNED, when or timezone.now()
        self.save(update_fields=["status", "signed_at", "document", "document_url", "updated_at"])

    @transaction.atomic
    def revoke(self, reason: str = "", *, when=None) -> "Revoke":
        """Revoke the consent and record why, in one transaction. An unsigned consent may be
        revoked too (the client refuses before signing); a revoked one may not, twice."""
        if self.status == ConsentStatus.REVOKED:
            raise CrmError(gettext("%(consent)s is already revoked.") % {"consent": self.get_kind_display()})
        when = when or timezone.now()
        revoke = Revoke.objects.create(client=self.client, consent=self, reason=reason or None, revoked_at=when)
        self.status = ConsentStatus.REVOKED
        self.save(update_fields=["status", "updated_at"])
        return revoke


def _bookings_needing_consent(kind: str | None = None):
    """Booked services of the outer client that require a consent the client has not signed."""
    from django.apps import apps  # bookings depends on crm, not the other way round

    booking_item = apps.get_model("bookings", "BookingItem")
    signed = Consent.objects.filter(
        client=OuterRef("booking__client"), kind=OuterRef("service__required_consent"), status=ConsentStatus.SIGNED
    )
    needing = booking_item.objects.filter(booking__client=OuterRef("pk"), service__required_consent__isnull=False)
    if kind:
        needing = needing.filter(service__required_consent=kind)
    return needing.exclude(booking__status="CANCELLED").filter(~Exists(signed))


class Revoke(BeilsModel):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="revokes", verbose_name=_("client"))
    consent = models.ForeignKey(
        Consent, on_delete=models.CASCADE, related_name="revokes", null=True, blank=True, verbose_name=_("consent")
    )
    reason = models.TextField(_("reason"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), default=timezone.now)

    class Meta:
        verbose_name = _("revocation")
        verbose_name_plural = _("revocations")
        ordering = ["-revoked_at"]
        indexes = [models.Index(fields=["revoked_at"], name="crm_revoke_revoked_at")]

    def __str__(self):
        when = date_format(timezone.localtime(self.revoked_at), "SHORT_DATE_FORMAT") if self.revoked_at else "—"
        if self.consent_id is None:
            return gettext("Revocation of %(date)s") % {"date": when}
        return gettext("Revocation of %(consent)s on %(date)s") % {"consent": self.consent, "date": when}


class Questionnaire(BeilsModel):
    """Health and intake answers: special-category personal data."""

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="questionnaires", verbose_name=_("client")
    )
    title = models.CharField(_("title"), max_length=150)
    answers = models.JSONField(_("answers"), default=dict, blank=True)

    class Meta:
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        ordering = ["-created_at"]

    def __str__(self):
        return self.title
