"""Small factories, one per model. Every object they make is valid for the database constraints."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from factory.django import DjangoModelFactory

from audit.models import AuditEntry
from backups.models import Backup, BackupStatus
from bookings.models import Booking, BookingItem
from catalog.models import Brand, Category, Pack, PackItem, Product, Service, Subcategory, Tag
from crm.models import (
    Client,
    ClientMergeRecord,
    Consent,
    ConsentStatus,
    ConsentType,
    Questionnaire,
    Revoke,
    Role,
    Status,
    User,
)
from maintenance.models import Heartbeat, ScheduleSlot
from marketing.models import (
    Bonus,
    BonusRedemption,
    ClientBonus,
    Coupon,
    CouponKind,
    GiftCard,
    GiftCardMovement,
    GiftCardMovementKind,
)
from sales.models import (
    Cart,
    CartItem,
    CartStatus,
    Debt,
    DebtPayment,
    Invoice,
    InvoiceKind,
    InvoiceSequence,
    Payment,
    PaymentMethod,
    invoice_hash,
)

PASSWORD = "a-long-test-password-42"


# --- crm ----------------------------------------------------------------------------------


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"staff{n}@salon.example")
    name = factory.Sequence(lambda n: f"Staff{n}")
    surname = "Member"
    role = Role.STAFF

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        password = kwargs.pop("password", PASSWORD)
        return model_class.all_objects.create_user(*args, password=password, **kwargs)


class ClientFactory(DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client{n}")
    surname = "García"
    email = factory.Sequence(lambda n: f"client{n}@mail.example")
    phone = factory.Sequence(lambda n: f"+34600{n:06d}")


class ClientMergeRecordFactory(DjangoModelFactory):
    """A merge as ``client_merge`` records it: one duplicate, one sale moved."""

    class Meta:
        model = ClientMergeRecord

    survivor_id = factory.LazyFunction(lambda: ClientFactory().pk)
    merged_ids = factory.LazyFunction(lambda: [ClientFactory(status=Status.OFF).pk])
    moved = factory.LazyAttribute(lambda o: {"sales.cart": [[1, o.merged_ids[0]]]})
    clients = factory.LazyAttribute(lambda o: {str(o.merged_ids[0]): {"status": "ON", "note": "Merged."}})


class ConsentFactory(DjangoModelFactory):
    class Meta:
        model = Consent

    client = factory.SubFactory(ClientFactory)
    kind = ConsentType.DATA_PROTECTION


class SignedConsentFactory(ConsentFactory):
    status = ConsentStatus.SIGNED
    signed_at = factory.LazyFunction(timezone.now)


class RevokeFactory(DjangoModelFactory):
    class Meta:
        model = Revoke

    consent = factory.SubFactory(ConsentFactory)
    client = factory.SelfAttribute("consent.client")
    reason = "Asked by phone"


class QuestionnaireFactory(DjangoModelFactory):
    class Meta:
        model = Questionnaire

    client = factory.SubFactory(ClientFactory)
    title = "Health intake"
    answers = factory.LazyFunction(lambda: {"allergies": "none", "pregnant": False})


# --- catalog ------------------------------------------------------------------------------


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")


class SubcategoryFactory(DjangoModelFactory):
    class Meta:
        model = Subcategory

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Subcategory {n}")


class BrandFactory(DjangoModelFactory):
    class Meta:
        model = Brand

    name = factory.Sequence(lambda n: f"Brand {n}")


class TagFactory(DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag-{n}")
    color = "#e11d48"


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    barcode = factory.Sequence(lambda n: f"84000{n:08d}")
    category = factory.SubFactory(CategoryFactory)
    brand = factory.SubFactory(BrandFactory)
    price = Decimal("12.10")
    tax_rate = Decimal("21.00")
    stock = 10
    min_stock = 2


class ServiceFactory(DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    code = factory.Sequence(lambda n: f"SRV-{n:05d}")
    price = Decimal("30.00")
    tax_rate = Decimal("21.00")
    duration_minutes = 45


class PackFactory(DjangoModelFactory):
    class Meta:
        model = Pack

    name = factory.Sequence(lambda n: f"Pack {n}")
    code = factory.Sequence(lambda n: f"PCK-{n:05d}")
    price = Decimal("99.00")


class PackItemFactory(DjangoModelFactory):
    class Meta:
        model = PackItem

    pack = factory.SubFactory(PackFactory)
    service = factory.SubFactory(ServiceFactory)
    product = None
    quantity = 2


# --- marketing ----------------------------------------------------------------------------


class CouponFactory(DjangoModelFactory):
    class Meta:
        model = Coupon

    code = factory.Sequence(lambda n: f"WELCOME{n}")
    kind = CouponKind.PERCENT
    value = Decimal("10.00")
    max_uses = 5


class BonusFactory(DjangoModelFactory):
    class Meta:
        model = Bonus
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Bono {n}")
    code = factory.Sequence(lambda n: f"BONO-{n:05d}")
    total_sessions = 5
    price = Decimal("120.00")

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create:
            self.services.set(extracted if extracted is not None else [ServiceFactory()])


class ClientBonusFactory(DjangoModelFactory):
    class Meta:
        model = ClientBonus

    client = factory.SubFactory(ClientFactory)
    bonus = factory.SubFactory(BonusFactory)
    name = factory.SelfAttribute("bonus.name")
    sessions_total = 5
    sessions_remaining = 5
    price_paid = Decimal("120.00")
    expires_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=365))


class BonusRedemptionFactory(DjangoModelFactory):
    class Meta:
        model = BonusRedemption

    client_bonus = factory.SubFactory(ClientBonusFactory)
    sessions = 1


class GiftCardFactory(DjangoModelFactory):
    class Meta:
        model = GiftCard

    code = factory.Sequence(lambda n: f"GIFT{n:06d}")
    initial_balance = Decimal("50.00")
    owner = factory.SubFactory(ClientFactory)


class GiftCardMovementFactory(DjangoModelFactory):
    class Meta:
        model = GiftCardMovement

    gift_card = factory.SubFactory(GiftCardFactory)
    kind = GiftCardMovementKind.ISSUE
    amount = Decimal("50.00")
    balance_after = Decimal("50.00")


# --- sales --------------------------------------------------------------------------------


class CartFactory(DjangoModelFactory):
    class Meta:
        model = Cart

    client = factory.SubFactory(ClientFactory)
    status = CartStatus.OPEN


class CompletedCartFactory(CartFactory):
    status = CartStatus.COMPLETED
    completed_at = factory.LazyFunction(timezone.now)
    subtotal = Decimal("12.10")
    net_total = Decimal("10.00")
    tax_total = Decimal("2.10")
    total = Decimal("12.10")


class CartItemFactory(DjangoModelFactory):
    """A service line at 21 % VAT whose gross is exactly net + tax."""

    class Meta:
        model = CartItem

    cart = factory.SubFactory(CartFactory)
    service = factory.SubFactory(ServiceFactory)
    name = factory.LazyAttribute(lambda o: o.service.name)
    quantity = 1
    unit_price = Decimal("12.10")
    tax_rate = Decimal("21.00")
    net = Decimal("10.00")
    tax = Decimal("2.10")
    gross = Decimal("12.10")


class PaymentFactory(DjangoModelFactory):
    class Meta:
        model = Payment

    cart = factory.SubFactory(CompletedCartFactory)
    method = PaymentMethod.CASH
    amount = Decimal("12.10")


class DebtFactory(DjangoModelFactory):
    class Meta:
        model = Debt

    client = factory.SubFactory(ClientFactory)
    amount = Decimal("50.00")
    remaining = Decimal("50.00")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=30))


class DebtPaymentFactory(DjangoModelFactory):
    class Meta:
        model = DebtPayment

    debt = factory.SubFactory(DebtFactory)
    amount = Decimal("10.00")
    method = PaymentMethod.CASH


class InvoiceFactory(DjangoModelFactory):
    class Meta:
        model = Invoice

    cart = factory.SubFactory(CompletedCartFactory)
    series = "F"
    year = 2025
    sequence_number = factory.Sequence(lambda n: n + 1)
    number = factory.LazyAttribute(lambda o: f"{o.series}{o.year}-{o.sequence_number:06d}")
    kind = InvoiceKind.SIMPLIFIED
    issue_date = factory.LazyAttribute(lambda o: date(o.year, 6, 1))
    issuer_tax_id = "B00000000"
    customer_name = factory.LazyAttribute(lambda o: o.cart.client.full_name if o.cart and o.cart.client else None)
    net_total = Decimal("10.00")
    tax_total = Decimal("2.10")
    total = Decimal("12.10")
    tax_breakdown = factory.LazyFunction(lambda: {"21.00": {"net": "10.00", "tax": "2.10"}})
    previous_hash = None
    hash = factory.LazyAttribute(
        lambda o: invoice_hash(
            issuer_tax_id=o.issuer_tax_id,
            number=o.number,
            issue_date=o.issue_date,
            total=o.total,
            previous_hash=o.previous_hash or "",
        )
    )


class InvoiceSequenceFactory(DjangoModelFactory):
    class Meta:
        model = InvoiceSequence

    series = factory.Sequence(lambda n: f"S{n}")
    year = 2025
    last_number = 3


# --- bookings -----------------------------------------------------------------------------


def _tomorrow_at_ten():
    tomorrow = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(tomorrow, time(10, 0)))


class BookingFactory(DjangoModelFactory):
    class Meta:
        model = Booking

    client = factory.SubFactory(ClientFactory)
    staff = factory.SubFactory(UserFactory)
    start = factory.LazyFunction(_tomorrow_at_ten)
    end = factory.LazyAttribute(lambda o: o.start + timedelta(minutes=45))


class BookingItemFactory(DjangoModelFactory):
    class Meta:
        model = BookingItem

    booking = factory.SubFactory(BookingFactory)
    service = factory.SubFactory(ServiceFactory)
    name = factory.LazyAttribute(lambda o: o.service.name)
    duration_minutes = 45


# --- maintenance and third-party models shown in the admin -----------------------------------


class AuditEntryFactory(DjangoModelFactory):
    class Meta:
        model = AuditEntry

    actor_label = "system"
    action = factory.Sequence(lambda n: f"maintenance.test.action{n}")
    target_type = "crm.client"
    target_id = factory.Sequence(str)
    target_label = factory.Sequence(lambda n: f"Client {n}")


class HeartbeatFactory(DjangoModelFactory):
    class Meta:
        model = Heartbeat

    name = factory.Sequence(lambda n: f"worker-{n}")
    last_seen = factory.LazyFunction(timezone.now)


class ScheduleSlotFactory(DjangoModelFactory):
    class Meta:
        model = ScheduleSlot

    name = "Nightly backup"
    slot = factory.Sequence(lambda n: timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=n))
    host = "ops-1"


class BackupFactory(DjangoModelFactory):
    class Meta:
        model = Backup

    file_name = factory.Sequence(lambda n: f"beils_test_20260101_{n:06d}.sql.gz")
    status = BackupStatus.SUCCESS
    engine = "mariadb"
    database = "beils"
    size_bytes = 1024
    sha256 = "0" * 64
    tables = factory.LazyFunction(lambda: {"crm_client": {"rows": 3, "sha256": "1" * 64}})
    finished_at = factory.LazyFunction(timezone.now)


class ApiTokenFactory(DjangoModelFactory):
    """The row only: knox's manager makes the digest; the secret is thrown away."""

    class Meta:
        model = "crm.ApiToken"

    user = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.create(*args, **kwargs)[0]


class GroupFactory(DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Group {n}")


class IntervalScheduleFactory(DjangoModelFactory):
    class Meta:
        model = IntervalSchedule

    every = factory.Sequence(lambda n: n + 1)
    period = IntervalSchedule.MINUTES


class CrontabScheduleFactory(DjangoModelFactory):
    class Meta:
        model = CrontabSchedule

    minute = factory.Sequence(lambda n: str(n % 60))
    hour = factory.Sequence(lambda n: str(n // 60 % 24))


class SolarScheduleFactory(DjangoModelFactory):
    class Meta:
        model = SolarSchedule

    event = "sunrise"
    latitude = factory.Sequence(lambda n: Decimal("40.0") + Decimal(n) / 100)
    longitude = Decimal("-3.70")


class ClockedScheduleFactory(DjangoModelFactory):
    class Meta:
        model = ClockedSchedule

    clocked_time = factory.Sequence(lambda n: timezone.now() + timedelta(days=n + 1))


class PeriodicTaskFactory(DjangoModelFactory):
    class Meta:
        model = PeriodicTask

    name = factory.Sequence(lambda n: f"Periodic task {n}")
    task = "maintenance.tasks.noop"
    interval = factory.SubFactory(IntervalScheduleFactory)
    start_time = factory.LazyFunction(timezone.now)


class JobFactory(DjangoModelFactory):
    class Meta:
        model = "transfer.Job"

    kind = "EXPORT"
    resource = "transfer.resources.crm.ClientResource"
    model_label = "crm.Client"
    file_format = "csv"
    actor = factory.SubFactory(UserFactory, role="ADMIN")


class SavedMappingFactory(DjangoModelFactory):
    class Meta:
        model = "transfer.SavedMapping"

    source = factory.Sequence(lambda n: f"recepcion {n}")
    resource = "client"
    columns = {"correo electronico": "Email", "nombre": "Name", "notas": ""}
    updated_by = factory.SubFactory(UserFactory, role="ADMIN")


class LifecycleRunFactory(DjangoModelFactory):
    class Meta:
        model = "maintenance.LifecycleRun"

    kind = "ARCHIVE"
    outcome = "SUCCESS"
    counts = factory.LazyFunction(lambda: {"sales_cart": {"moved": 3}})
    finished_at = factory.LazyFunction(timezone.now)


class AlertFactory(DjangoModelFactory):
    class Meta:
        model = "maintenance.Alert"

    code = factory.Sequence(lambda n: f"test.condition{n}")
    message = factory.Sequence(lambda n: f"Condition {n} needs a person")


class RestoreDrillFactory(DjangoModelFactory):
    class Meta:
        model = "backups.RestoreDrill"

    backup_file = factory.Sequence(lambda n: f"beils_test_20260101_{n:06d}.sql.gz")
    engine = "mariadb"
    outcome = "SUCCESS"
    seconds = 12.5
    rto_hours = 1
    finished_at = factory.LazyFunction(timezone.now)


class RetentionPolicyFactory(DjangoModelFactory):
    class Meta:
        model = "maintenance.RetentionPolicy"

    code = factory.Sequence(lambda n: f"policy-{n}")
    name = factory.Sequence(lambda n: f"Policy {n}")
    target = "sales.Cart"
    action = "ARCHIVE"
    after_days = 730


class ForgettableClientFactory(ClientFactory):
    """A client due to be forgotten: created eight years ago, nothing since; the forgetting
    policy is switched on (5 years) so that the review list shows them."""

    class Meta:
        model = "maintenance.ForgettableClient"

    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=8 * 365))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from tests.maintenance.forget_support import switch_on

        switch_on(5 * 365)
        return super()._create(model_class, *args, **kwargs)


class ArchivedCartFactory(DjangoModelFactory):
    class Meta:
        model = "sales.ArchivedCart"

    id = factory.Sequence(lambda n: 900_000 + n)
    client = factory.SubFactory(ClientFactory)
    status = CartStatus.COMPLETED
    completed_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)
    archived_at = factory.LazyFunction(timezone.now)


# --- Login throttling (django-axes) ---------------------------------------------------------


class AccessAttemptFactory(DjangoModelFactory):
    class Meta:
        model = "axes.AccessAttempt"

    username = factory.Sequence(lambda n: f"guess{n}@salon.example")
    ip_address = "203.0.113.7"
    user_agent = "pytest"
    path_info = "/admin/login/"
    get_data = ""
    post_data = "username=…"
    http_accept = "text/html"
    failures_since_start = 1


class AccessLogFactory(DjangoModelFactory):
    class Meta:
        model = "axes.AccessLog"

    username = factory.Sequence(lambda n: f"staff{n}@salon.example")
    ip_address = "203.0.113.7"
    user_agent = "pytest"
    path_info = "/admin/login/"
    http_accept = "text/html"


class AccessFailureLogFactory(DjangoModelFactory):
    class Meta:
        model = "axes.AccessFailureLog"

    username = factory.Sequence(lambda n: f"guess{n}@salon.example")
    ip_address = "203.0.113.7"
    user_agent = "pytest"
    path_info = "/admin/login/"
    http_accept = "text/html"
    locked_out = False


class LegacyImportRunFactory(DjangoModelFactory):
    class Meta:
        model = "legacy.LegacyImportRun"

    source = "mysql://beils@legacy.example:3306/beils"
    state = "DONE"
    rows_done = rows_total = 100
    actor = factory.SubFactory(UserFactory, role="ADMIN")


class LegacyInvoiceFactory(DjangoModelFactory):
    class Meta:
        model = "legacy.LegacyInvoice"

    number = factory.Sequence(lambda n: f"BBH-01-2025-{n:04d}")
    legacy_id = factory.Sequence(lambda n: f"cart-{n}")
    kind = "F1"
    issued_at = factory.LazyFunction(timezone.now)
    total = Decimal("45.00")
    hash = factory.Sequence(lambda n: f"{n:064X}")
