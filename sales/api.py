from django.db.models import Prefetch
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from beils.lib.api import ERROR_RESPONSE, AtomicWritesMixin
from beils.lib.net import client_ip
from sales.models import Cart, CartItem, Debt, Invoice, Payment
from sales.receipts import invoice_pdf
from sales.register import invoice_register_export
from sales.serializers import (
    CartSerializer,
    CheckoutSerializer,
    DebtPaymentSerializer,
    DebtPayRequestSerializer,
    DebtSerializer,
    InvoiceSerializer,
    RectifyRequestSerializer,
    RegisterRequestSerializer,
)
from sales.services import cart_cancel, debt_pay, invoice_rectify


class CanSell(permissions.BasePermission):
    """Checking out and cancelling are daily work: whoever may add and change sales."""

    def has_permission(self, request, view):
        return request.user.has_perms(["sales.add_cart", "sales.change_cart"])


class CanRectifyInvoices(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm("sales.add_invoice")


class CanReportSales(permissions.BasePermission):
    """The register of issued invoices, like the sales reports: MANAGER and ADMIN."""

    def has_permission(self, request, view):
        return request.user.has_perm("sales.report_sales")


class CanTakeDebtPayments(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm("sales.add_debtpayment")


class CartViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    """Sales (tickets), with their lines and payments read-only. Deleting a sale that has an
    invoice or a debt is refused with 409."""

    # The client is shown as its id: no need to fetch it.
    queryset = Cart.objects.prefetch_related(
        Prefetch("items", queryset=CartItem.objects.order_by("pk")),
        Prefetch("payments", queryset=Payment.objects.order_by("paid_at", "pk")),
    ).order_by("-created_at", "-pk")
    serializer_class = CartSerializer
    filterset_fields = ["status", "client", "booking", "coupon", "created_by"]
    search_fields = ["=id", "client__name", "client__surname", "client__email"]
    ordering_fields = ["created_at", "completed_at", "total"]

    def perform_create(self, serializer):
        serializer.validated_data["created_by"] = self.request.user
        super().perform_create(serializer)

    @extend_schema(request=CheckoutSerializer, responses={201: CartSerializer, 400: ERROR_RESPONSE})
    @action(detail=False, methods=["post"], permission_classes=[CanSell])
    def checkout(self, request):
        """Complete a sale: lines priced on the server, coupon, payments (or a debt on credit),
        stock, bonos and gift cards, and the invoice, all or nothing. The answer is the sale,
        with ``invoice`` (its number) and ``debt`` (an id, on credit)."""
        payload = CheckoutSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = payload.checkout(actor=request.user)
        cart = self.get_queryset().get(pk=result.cart.pk)
        body = {**CartSerializer(cart).data, "invoice": result.invoice.number, "debt": getattr(result.debt, "pk", None)}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: CartSerializer, 400: ERROR_RESPONSE})
    @action(detail=True, methods=["post"], permission_classes=[CanSell])
    def cancel(self, request, pk=None):
        """Cancel an open sale (a completed one is corrected with a rectifying invoice)."""
        cart = cart_cancel(cart=self.get_object(), actor=request.user)
        return Response(CartSerializer(self.get_queryset().get(pk=cart.pk)).data)


class DebtViewSet(
    AtomicWritesMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Money clients owe. No POST and no DELETE: a debt exists only because of a credit sale
    (checkout with ``on_credit``) and goes away only by being paid (``pay``)."""

    # The client is fetched per page, not joined: a join let MariaDB read the page through clients.
    queryset = Debt.objects.prefetch_related("client", "payments").order_by("-created_at", "-pk")
    serializer_class = DebtSerializer
    filterset_fields = ["status", "client", "cart", "due_date"]
    search_fields = ["client__name", "client__surname", "client__email"]
    ordering_fields = ["created_at", "due_date", "amount", "remaining"]

    @extend_schema(request=DebtPayRequestSerializer, responses={201: DebtPaymentSerializer, 400: ERROR_RESPONSE})
    @action(detail=True, methods=["post"], permission_classes=[CanTakeDebtPayments])
    def pay(self, request, pk=None):
        """Record a payment towards the debt, capped at what remains (the answer's ``amount`` is
        what was applied); the debt moves PENDING → PARTIAL → PAID."""
        payload = DebtPayRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        payment = debt_pay(debt=self.get_object(), actor=request.user, **payload.validated_data)
        return Response(DebtPaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class InvoiceViewSet(viewsets.ReadOnlyModelViewSet):
    """Issued invoices: fiscal records, never changed or deleted (corrections are rectifying
    invoices)."""

    queryset = Invoice.objects.order_by("-issue_date", "-sequence_number", "-pk")
    serializer_class = InvoiceSerializer
    filterset_fields = ["series", "year", "kind", "issue_date", "cart"]
    search_fields = ["=number", "customer_name", "customer_tax_id"]
    ordering_fields = ["issue_date", "number", "total"]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        """The invoice as its customer gets it (PDF, with the tax office's check QR code)."""
        invoice = self.get_object()
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
        return response

    def perform_content_negotiation(self, request, force=False):
        if self.action == "register":
            # There ``format`` chooses the file (csv, xlsx, json), not a renderer; errors are JSON.
            renderer = JSONRenderer()
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        parameters=[RegisterRequestSerializer],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/json"): OpenApiTypes.BINARY,
                   400: ERROR_RESPONSE},
    )  # fmt: skip
    @action(detail=False, methods=["get"], permission_classes=[CanReportSales], pagination_class=None)
    def register(self, request):
        """The register of issued invoices of a period (``from``, ``to``, both included) as
        ``format=csv`` or ``xlsx``, or each invoice's Veri*Factu record as ``json`` with the hash
        chain checked in its header (MANAGER and ADMIN; audited)."""
        payload = RegisterRequestSerializer(data=request.query_params)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        exported = invoice_register_export(
            start=data["from"], end=data["to"], fmt=data["format"], actor=request.user,
            ip_address=client_ip(request), via="api",
        )  # fmt: skip
        # Streamed from the temporary file, which the response closes once sent.
        return FileResponse(
            exported.file, as_attachment=True, filename=exported.name, content_type=exported.content_type
        )

    @extend_schema(request=RectifyRequestSerializer, responses={201: InvoiceSerializer, 400: ERROR_RESPONSE})
    @action(detail=True, methods=["post"], permission_classes=[CanRectifyInvoices])
    def rectify(self, request, pk=None):
        """Cancel this invoice with a rectifying (R) invoice for the opposite amounts (ADMIN)."""
        payload = RectifyRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rectifying = invoice_rectify(invoice=self.get_object(), actor=request.user, **payload.validated_data)
        return Response(InvoiceSerializer(rectifying).data, status=status.HTTP_201_CREATED)
