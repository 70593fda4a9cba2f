from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from backups.api import BackupViewSet
from beils.lib.apidocs import DocsView, SchemaView
from beils.lib.media import media_serve
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
from crm.views import set_language
from maintenance.health import BeilsHealthView, LiveHealthView
from marketing.api import BonusViewSet, ClientBonusViewSet, CouponViewSet, GiftCardViewSet
from sales.api import CartViewSet, DebtViewSet, InvoiceViewSet
from transfer.api import exporting

router = OptionalSlashRouter()
router.register("users", exporting(UserViewSet), basename="user")
router.register("clients", exporting(ClientViewSet), basename="client")
router.register("crm/consents", exporting(ConsentViewSet), basename="consent")
router.register("crm/questionnaires", exporting(QuestionnaireViewSet), basename="questionnaire")
router.register("crm/revokes", exporting(RevokeViewSet), basename="revoke")
router.register("catalog/products", exporting(ProductViewSet), basename="product")
router.register("catalog/services", exporting(ServiceViewSet), basename="service")
router.register("catalog/packs", exporting(PackViewSet), basename="pack")
router.register("catalog/categories", exporting(CategoryViewSet), basename="category")
router.register("catalog/subcategories", exporting(SubcategoryViewSet), basename="subcategory")
router.register("catalog/brands", exporting(BrandViewSet), basename="brand")
router.register("catalog/tags", exporting(TagViewSet), basename="tag")
router.register("marketing/coupons", exporting(CouponViewSet), basename="coupon")
router.register("marketing/bonuses", exporting(BonusViewSet), basename="bonus")
router.register("marketing/client-bonuses", exporting(ClientBonusViewSet), basename="clientbonus")
router.register("marketing/gift-cards", exporting(GiftCardViewSet), basename="giftcard")
router.register("sales/carts", exporting(CartViewSet), basename="cart")
router.register("sales/debts", exporting(DebtViewSet), basename="debt")
router.register("sales/invoices", exporting(InvoiceViewSet), basename="invoice")
router.register("bookings", exporting(BookingViewSet), basename="booking")
router.register("maintenance/backups", BackupViewSet, basename="backup")


def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (health, API docs)."""
    return redirect(static("beils/favicon.svg"), permanent=True)


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("favicon.ico", favicon),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("api/auth/token", TokenObtainView.as_view(), name="api-token"),
    path("api/schema", SchemaView.as_view(), name="schema"),
    path("api/docs", DocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include(router.urls)),
    # No login, no secrets, 500 when something is wrong: the site (for monitoring) and this node
    # (for a load balancer).
    path("health/", BeilsHealthView.as_view(), name="health"),
    path("health/live", LiveHealthView.as_view(), name="health-live"),
    # Signed consents and product images, for the people allowed to see them (never a directory).
    path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", media_serve, name="media"),
]
