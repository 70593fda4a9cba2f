from django.db.models import Prefetch
from rest_framework import viewsets

from beils.lib.api import AtomicWritesMixin
from maintenance.api import StreamingExportMixin
from sales.models import Cart, CartItem, Debt, Invoice, Payment
from sales.serializers import CartSerializer, DebtSerializer, InvoiceSerializer


class CartViewSet(StreamingExportMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    """Sales (tickets), with their lines and payments read-only. Deleting a sale that has an
    invoice or a debt is refused with 409."""

    queryset = (
        Cart.objects.select_related("client")
        .prefetch_related(
            Prefetch("items", queryset=CartItem.objects.order_by("pk")),
            Prefetch("payments", queryset=Payment.objects.order_by("paid_at", "pk")),
        )
        .order_by("-created_at", "-pk")
    )
    serializer_class = CartSerializer
    filterset_fields = ["status", "client", "booking", "coupon", "created_by"]
    search_fields = ["=id", "client__name", "client__surname", "client__email"]
    ordering_fields = ["created_at", "completed_at", "total"]

    def perform_create(self, serializer):
        serializer.validated_data["created_by"] = self.request.user
        super().perform_create(serializer)


class DebtViewSet(StreamingExportMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Debt.objects.select_related("client").prefetch_related("payments").order_by("-created_at", "-pk")
    serializer_class = DebtSerializer
    filterset_fields = ["status", "client", "cart", "due_date"]
    search_fields = ["client__name", "client__surname", "client__email"]
    ordering_fields = ["created_at", "due_date", "amount", "remaining"]


class InvoiceViewSet(StreamingExportMixin, viewsets.ReadOnlyModelViewSet):
    """Issued invoices: fiscal records, never changed or deleted (corrections are rectifying
    invoices)."""

    queryset = Invoice.objects.order_by("-issue_date", "-sequence_number", "-pk")
    serializer_class = InvoiceSerializer
    filterset_fields = ["series", "year", "kind", "issue_date", "cart"]
    search_fields = ["=number", "customer_name", "customer_tax_id"]
    ordering_fields = ["issue_date", "number", "total"]
