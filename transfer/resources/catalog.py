"""Import/export of the catalogue. Products by SKU; services and packs by code; categories,
brands and tags by name; a subcategory by its category's name and its own."""

from import_export import fields

from catalog.models import Brand, Category, Pack, PackItem, Product, Service, Subcategory, Tag
from transfer.resources.base import BeilsResource, SoftDeleteResource
from transfer.resources.fields import NaturalKeyWidget, natural_fk, natural_m2m, read_only


class SubcategoryWidget(NaturalKeyWidget):
    """A subcategory's name is unique only within its category, read from the row's Category column."""

    def __init__(self, category_column="Category"):
        super().__init__(Subcategory, "name")
        self.category_column = category_column

    def get_lookup_kwargs(self, value, row, **kwargs):
        return {"name": value, "category__name": (row or {}).get(self.category_column) or None}


def category_fk():
    return natural_fk("category", Category, "name")


class CategoryResource(BeilsResource):
    id = read_only("id")

    class Meta(BeilsResource.Meta):
        model = Category
        fields = ("id", "name", "created_at")
        import_id_fields = ["name"]


class SubcategoryResource(BeilsResource):
    id = read_only("id")
    category = category_fk()

    class Meta(BeilsResource.Meta):
        model = Subcategory
        fields = ("id", "category", "name", "created_at")
        import_id_fields = ["category", "name"]


class BrandResource(BeilsResource):
    id = read_only("id")

    class Meta(BeilsResource.Meta):
        model = Brand
        fields = ("id", "name", "created_at")
        import_id_fields = ["name"]


class TagResource(BeilsResource):
    id = read_only("id")

    class Meta(BeilsResource.Meta):
        model = Tag
        fields = ("id", "name", "color", "created_at")
        import_id_fields = ["name"]


class ProductResource(SoftDeleteResource):
    category = category_fk()
    subcategory = fields.Field(attribute="subcategory", column_name="Subcategory", widget=SubcategoryWidget())
    brand = natural_fk("brand", Brand, "name")
    tags = natural_m2m("tags", Tag, "name")

    class Meta(BeilsResource.Meta):
        model = Product
        fields = (
            "id",
            "sku",
            "name",
            "description",
            "barcode",
            "category",
            "subcategory",
            "brand",
            "tags",
            "price",
            "tax_rate",
            "cost",
            "stock",
            "min_stock",
            "image",
            "status",
            "legacy_id",
            "created_at",
            "deactivated_at",
        )
        import_id_fields = ["sku"]


class ServiceResource(SoftDeleteResource):
    category = category_fk()

    class Meta(BeilsResource.Meta):
        model = Service
        fields = (
            "id",
            "code",
            "name",
            "description",
            "category",
            "price",
            "tax_rate",
            "duration_minutes",
            "status",
            "legacy_id",
            "created_at",
            "deactivated_at",
        )
        import_id_fields = ["code"]


class PackResource(SoftDeleteResource):
    class Meta(BeilsResource.Meta):
        model = Pack
        fields = (
            "id",
            "code",
            "name",
            "description",
            "price",
            "tax_rate",
            "status",
            "legacy_id",
            "created_at",
            "deactivated_at",
        )
        import_id_fields = ["code"]


class PackItemResource(BeilsResource):
    pack = natural_fk("pack", Pack, "code", column="Pack code")
    product = natural_fk("product", Product, "sku", column="Product SKU")
    service = natural_fk("service", Service, "code", column="Service code")

    class Meta(BeilsResource.Meta):
        model = PackItem
        fields = ("id", "pack", "product", "service", "quantity", "created_at")
