from rest_framework import viewsets

from beils.lib.api import AtomicWritesMixin, SoftDeleteMixin, soft_delete_schema
from catalog.models import Brand, Category, Pack, Product, Service, Subcategory, Tag
from catalog.serializers import (
    BrandSerializer,
    CategorySerializer,
    PackSerializer,
    ProductSerializer,
    ServiceSerializer,
    SubcategorySerializer,
    TagSerializer,
)


@soft_delete_schema
class ProductViewSet(SoftDeleteMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    """Products. DELETE deactivates; ``?hard=1`` deletes one never sold (409 otherwise)."""

    queryset = (
        Product.all_objects.select_related("category", "subcategory", "brand")
        .prefetch_related("tags")
        .order_by("name", "pk")
    )
    serializer_class = ProductSerializer
    filterset_fields = ["status", "category", "subcategory", "brand", "tags"]
    search_fields = ["name", "=sku", "=barcode", "description"]
    ordering_fields = ["name", "sku", "price", "stock", "created_at"]


@soft_delete_schema
class ServiceViewSet(SoftDeleteMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Service.all_objects.select_related("category").order_by("name", "pk")
    serializer_class = ServiceSerializer
    filterset_fields = ["status", "category"]
    search_fields = ["name", "=code", "description"]
    ordering_fields = ["name", "code", "price", "duration_minutes", "created_at"]


@soft_delete_schema
class PackViewSet(SoftDeleteMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Pack.all_objects.prefetch_related("items").order_by("name", "pk")
    serializer_class = PackSerializer
    filterset_fields = ["status"]
    search_fields = ["name", "=code", "description"]
    ordering_fields = ["name", "code", "price", "created_at"]


class CategoryViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Category.objects.order_by("name")
    serializer_class = CategorySerializer
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]


class SubcategoryViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Subcategory.objects.select_related("category").order_by("category__name", "name")
    serializer_class = SubcategorySerializer
    filterset_fields = ["category"]
    search_fields = ["name", "category__name"]
    ordering_fields = ["name", "created_at"]


class BrandViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Brand.objects.order_by("name")
    serializer_class = BrandSerializer
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]


class TagViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Tag.objects.order_by("name")
    serializer_class = TagSerializer
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
