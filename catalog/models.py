from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from beils.lib.models import (
    ActiveManager,
    AllObjectsManager,
    BeilsModel,
    SoftDeleteModel,
    SoftDeleteQuerySet,
    money,
    tax_rate,
)
from crm.models import ConsentType


def price_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(condition=Q(price__gte=0), name=f"{prefix}_price_not_negative"),
        models.CheckConstraint(condition=Q(tax_rate__gte=0, tax_rate__lte=100), name=f"{prefix}_tax_rate_0_100"),
    ]


class Category(BeilsModel):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Subcategory(BeilsModel):
    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="subcategories", verbose_name=_("category")
    )
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("subcategory")
        verbose_name_plural = _("subcategories")
        ordering = ["category__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["category", "name"], name="catalog_subcategory_unique_per_category")
        ]

    def __str__(self):
        return f"{self.category} › {self.name}"


class Brand(BeilsModel):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Tag(BeilsModel):
    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(
        _("colour"),
        max_length=7,
        default="#6b7280",
        validators=[RegexValidator(r"^#[0-9A-Fa-f]{6}$", _("Use a hex colour such as #e11d48."))],
    )

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ProductQuerySet(SoftDeleteQuerySet):
    def low_stock(self):
        """Products at or below their minimum stock."""
        return self.filter(stock__lte=F("min_stock"))


class Product(SoftDeleteModel):
    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), null=True, blank=True)
    sku = models.CharField(_("SKU"), max_length=50, unique=True)
    barcode = models.CharField(_("barcode"), max_length=50, unique=True, null=True, blank=True)
    category = models.ForeignKey(
        Category,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="products",
        verbose_name=_("category"),
    )
    subcategory = models.ForeignKey(
        Subcategory,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="products",
        verbose_name=_("subcategory"),
    )
    brand = models.ForeignKey(
        Brand, on_delete=models.SET_NULL, null=True, blank=True, related_name="products", verbose_name=_("brand")
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="products", verbose_name=_("tags"))
    price = money(_("price (VAT incl.)"), validators=[MinValueValidator(Decimal("0"))])
    tax_rate = tax_rate()
    cost = money(_("cost"), null=True, blank=True, validators=[MinValueValidator(Decimal("0"))])
    stock = models.IntegerField(_("stock"), default=0, validators=[MinValueValidator(0)])
    min_stock = models.PositiveIntegerField(_("minimum stock"), default=0)
    image = models.ImageField(_("image"), upload_to="products/", null=True, blank=True)
    legacy_id = models.CharField(_("legacy id"), max_length=100, null=True, blank=True, unique=True, editable=False)

    all_objects = AllObjectsManager.from_queryset(ProductQuerySet)()
    objects = ActiveManager.from_queryset(ProductQuerySet)()

    class Meta(SoftDeleteModel.Meta):
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        indexes = [
            models.Index(fields=["name"], name="catalog_product_name"),
            models.Index(fields=["status", "name"], name="catalog_product_status_name"),
        ]
        constraints = [
            *price_constraints("catalog_product"),
            models.CheckConstraint(condition=~Q(sku=""), name="catalog_product_sku_not_blank"),
            # A sale takes stock only while there is some (sales.services._take_stock).
            models.CheckConstraint(
                condition=Q(stock__gte=0),
                name="catalog_product_stock_not_negative",
                violation_error_message=_("Stock cannot be negative."),
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"

    @property
    def is_low_stock(self) -> bool:
        return self.stock <= self.min_stock


class Service(SoftDeleteModel):
    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), null=True, blank=True)
    code = models.CharField(_("code"), max_length=50, unique=True)
    category = models.ForeignKey(
        Category,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="services",
        verbose_name=_("category"),
    )
    price = money(_("price (VAT incl.)"), validators=[MinValueValidator(Decimal("0"))])
    tax_rate = tax_rate()
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), default=30)
    required_consent = models.CharField(
        _("required consent"),
        max_length=20,
        choices=ConsentType.choices,
        null=True,
        blank=True,
        help_text=_("The consent a client must have signed before receiving this service (e.g. laser)."),
    )
    legacy_id = models.CharField(_("legacy id"), max_length=100, null=True, blank=True, unique=True, editable=False)

    class Meta(SoftDeleteModel.Meta):
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["name"]
        constraints = [
            *price_constraints("catalog_service"),
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="catalog_service_duration_positive"),
            models.CheckConstraint(condition=~Q(code=""), name="catalog_service_code_not_blank"),
        ]

    def __str__(self):
        return self.name


class Pack(SoftDeleteModel):
    """A fixed bundle of products and services sold as one item."""

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), null=True, blank=True)
    code = models.CharField(_("code"), max_length=50, unique=True)
    price = money(_("price (VAT incl.)"), validators=[MinValueValidator(Decimal("0"))])
    tax_rate = tax_rate()
    legacy_id = models.CharField(_("legacy id"), max_length=100, null=True, blank=True, unique=True, editable=False)

    class Meta(SoftDeleteModel.Meta):
        verbose_name = _("pack")
        verbose_name_plural = _("packs")
        ordering = ["name"]
        constraints = [
            *price_constraints("catalog_pack"),
            models.CheckConstraint(condition=~Q(code=""), name="catalog_pack_code_not_blank"),
        ]

    def __str__(self):
        return self.name


class PackItem(BeilsModel):
    """One line of a pack: a product or a service (exactly one), with a quantity."""

    pack = models.ForeignKey(Pack, on_delete=models.CASCADE, related_name="items", verbose_name=_("pack"))
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("product")
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("service")
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)

    class Meta:
        verbose_name = _("pack line")
        verbose_name_plural = _("pack lines")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(product__isnull=False, service__isnull=True) | Q(product__isnull=True, service__isnull=False)
                ),
                name="catalog_packitem_product_xor_service",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="catalog_packitem_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.product or self.service}"
