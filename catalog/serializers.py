from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from beils.lib.api import ActiveStatusField, ModelConstraintsMixin
from catalog.models import Brand, Category, Pack, PackItem, Product, Service, Subcategory, Tag


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class SubcategorySerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    class Meta:
        model = Subcategory
        fields = ["id", "category", "name", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class BrandSerializer(serializers.ModelSerializer):
    class Meta:
        model = Brand
        fields = ["id", "name", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "color", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class ProductSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    status = ActiveStatusField()
    is_low_stock = serializers.BooleanField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "id", "name", "description", "sku", "barcode", "category", "subcategory", "brand", "tags", "price",
            "tax_rate", "cost", "stock", "min_stock", "is_low_stock", "image", "status", "created_at", "updated_at",
            "deactivated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at", "deactivated_at"]

    def validate(self, attrs):
        category = attrs.get("category", getattr(self.instance, "category", None))
        subcategory = attrs.get("subcategory", getattr(self.instance, "subcategory", None))
        if subcategory is not None and category is not None and subcategory.category_id != category.pk:
            raise serializers.ValidationError({"subcategory": [_("This subcategory belongs to another category.")]})
        return super().validate(attrs)


class ServiceSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    status = ActiveStatusField()

    class Meta:
        model = Service
        fields = [
            "id", "name", "description", "code", "category", "price", "tax_rate", "duration_minutes", "status",
            "created_at", "updated_at", "deactivated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at", "deactivated_at"]


class PackItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = PackItem
        fields = ["id", "product", "service", "quantity"]
        read_only_fields = fields


class PackSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    """A pack; its lines are read here and edited in the admin."""

    status = ActiveStatusField()
    items = PackItemSerializer(many=True, read_only=True)

    class Meta:
        model = Pack
        fields = [
            "id", "name", "description", "code", "price", "tax_rate", "items", "status", "created_at", "updated_at",
            "deactivated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at", "deactivated_at"]
