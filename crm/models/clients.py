"""Clients, their consents and revocations, and their questionnaires (health data)."""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, Exists, OuterRef, Q, Value
from django.db.models.functions import Length, Lower, Replace, Right, Trim, Upper
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from beils.lib.models import ActiveManager, AllObjectsManager, BeilsModel, SoftDeleteModel, SoftDeleteQuerySet
from crm.models.errors import ClientHasHistory, CrmError

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

    def forgettable(self, *, before, now=None):
        """Clients with no visit, purchase, debt or signed form since ``before`` and nothing
        that blocks forgetting (an open debt, an upcoming booking, prepaid value), annotated with
        each kind's latest date; erased clients left out. The rule is in ``crm.forgetting``."""
        from crm.forgetting import forgettable

        return forgettable(self, before=before, now=now)

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
