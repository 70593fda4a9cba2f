from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from beils.lib.apidocs import DocsView, SchemaView
from beils.lib.routers import OptionalSlashRouter
from bookings.api import BookingViewSet
from catalog.api import (
    BrandViewSet,
    CategoryViewSet,
    PackViewSet,
    ProductViewSet,
    ServiceViewSet,
    SubcategoryViewSet,
    TagViewSet,
)
from crm.api import ClientViewSet, ConsentViewSet, QuestionnaireViewSet, RevokeViewSet, TokenObtainView, UserViewSet
from maintenance.api import BackupViewSet
from maintenance.health import BeilsHealthView
from marketing.api import BonusViewSet, ClientBonusViewSet, CouponViewSet, GiftCardViewSet
from sales.api import CartViewSet, DebtViewSet, InvoiceViewSet

router = OptionalSlashRouter()
router.register("users", UserViewSet, basename="user")
router.register("clients", ClientViewSet, basename="client")
router.register("crm/consents", ConsentViewSet, basename="consent")
router.register("crm/questionnaires", QuestionnaireViewSet, basename="questionnaire")
router.register("crm/revokes", RevokeViewSet, basename="revoke")
router.register("catalog/products", ProductViewSet, basename="product")
router.register("catalog/services", ServiceViewSet, basename="service")
router.register("catalog/packs", PackViewSet, basename="pack")
router.register("catalog/categories", CategoryViewSet, basename="category")
router.register("catalog/subcategories", SubcategoryViewSet, basename="subcategory")
router.register("catalog/brands", BrandViewSet, basename="brand")
router.register("catalog/tags", TagViewSet, basename="tag")
router.register("marketing/coupons", CouponViewSet, basename="coupon")
router.register("marketing/bonuses", BonusViewSet, basename="bonus")
router.register("marketing/client-bonuses", ClientBonusViewSet, basename="clientbonus")
router.register("marketing/gift-cards", GiftCardViewSet, basename="giftcard")
router.register("sales/carts", CartViewSet, basename="cart")
router.register("sales/debts", DebtViewSet, basename="debt")
router.register("sales/invoices", InvoiceViewSet, basename="invoice")
router.register("bookings", BookingViewSet, basename="booking")
router.register("maintenance/backups", BackupViewSet, basename="backup")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/auth/token", TokenObtainView.as_view(), name="api-token"),
    path("api/schema", SchemaView.as_view(), name="schema"),
    path("api/docs", DocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include(router.urls)),
    # For an uptime monitor: no login, no secrets; 500 when something needs a person.
    path("health/", BeilsHealthView.as_view(), name="health"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
