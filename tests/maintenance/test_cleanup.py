"""Cleanup: test data, orphaned rows, the trash; the command, the task, the schedule, the admin."""

import json
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audit.models import AuditEntry
from beils.lib.models import Status
from bookings.models import Booking
from catalog.models import Product
from crm.models import Client, Consent, User
from demo.services import demo_data_seed
from maintenance.cleanup import (
    Trash,
    cleaned_models,
    cleanup_run,
    cleanup_test_data,
    orphan_relations,
    orphans_find,
    orphans_fix,
    trash_purge,
)
from maintenance.models import LifecycleRun
from maintenance.tasks import cleanup as cleanup_task
from marketing.models import GiftCard
from sales.models import Cart, CartItem, Invoice
from tests.factories import (
    BookingFactory,
    CartFactory,
    CartItemFactory,
    ClientFactory,
    ConsentFactory,
    GiftCardFactory,
    InvoiceFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    """Rows of every table of the project apps (the run's own record and audit entry aside)."""
    skip = {"maintenance_lifecyclerun", "maintenance_auditentry"}
    return {m._meta.db_table: m._base_manager.count() for m in cleaned_models() if m._meta.db_table not in skip}


def deleted_tables(queries) -> list[str]:
    """The tables DELETE statements hit, in the order they ran."""
    tables = []
    for query in queries:
        match = re.match(r'DELETE FROM [`"]?(\w+)[`"]?', query["sql"])
        if match and match.group(1) not in tables:
            tables.append(match.group(1))
    return tables


_barcodes = iter(range(1, 10**6))


def make_product(**kwargs) -> Product:
    # Barcodes of their own: the seed's demo products use the factory's barcode range.
    return ProductFactory(barcode=f"TST{next(_barcodes):010d}", **kwargs)


def deactivate(obj, days_ago: int) -> None:
    type(obj)._base_manager.filter(pk=obj.pk).update(
        status=Status.OFF, deactivated_at=timezone.now() - timedelta(days=days_ago)
    )


@pytest.fixture
def salon(admin_user):
    """Real data beside the test data: a client with a consent and a sale, a product."""
    client = ClientFactory(email="lucia@gmail.com")
    ConsentFactory(client=client)
    CartItemFactory(cart=CartFactory(client=client))
    return {"client": client, "product": make_product(sku="CR-001")}


# --- Test data -----------------------------------------------------------------------------


def test_seed_and_test_pattern_rows_are_removed_children_first_and_nothing_else_is_touched(salon, admin_user):
    demo_data_seed(clients=8, random_seed=3)
    tester = ClientFactory(email="qa@test.com")
    ConsentFactory(client=tester)
    CartItemFactory(cart=CartFactory(client=tester))
    test_product = make_product(sku="TEST-0001")
    real_before = {m._meta.label: m._base_manager.filter(is_demo=False).count() for m in (Client, Consent, Cart)}

    with CaptureQueriesContext(connection) as queries:
        run = cleanup_test_data(dry_run=False, actor=admin_user)

    assert run.outcome == "SUCCESS"
    for model in cleaned_models():
        if "is_demo" in {f.name for f in model._meta.fields}:
            assert not model._base_manager.filter(is_demo=True).exists(), model._meta.label
    assert not Client.all_objects.filter(pk=tester.pk).exists()
    assert not Product.all_objects.filter(pk=test_product.pk).exists()
    assert Client.all_objects.filter(pk=salon["client"].pk).exists()
    assert Product.all_objects.filter(pk=salon["product"].pk).exists()
    assert User.all_objects.filter(pk=admin_user.pk).exists()
    after = {m._meta.label: m._base_manager.filter(is_demo=False).count() for m in (Client, Consent, Cart)}
    assert after == {"crm.Client": real_before["crm.Client"] - 1, "crm.Consent": real_before["crm.Consent"] - 1,
                     "sales.Cart": real_before["sales.Cart"] - 1}  # fmt: skip
    order = deleted_tables(queries.captured_queries)
    for child, parent in [("sales_cartitem", "sales_cart"), ("sales_invoice", "sales_cart"),
                          ("sales_cart", "crm_client"), ("crm_consent", "crm_client"),
                          ("bookings_bookingitem", "bookings_booking"), ("catalog_packitem", "catalog_product")]:  # fmt: skip
        assert order.index(child) < order.index(parent), (child, parent)
    assert run.counts["crm_client"]["removed"] == 9
    assert AuditEntry.objects.filter(action="maintenance.cleanup.done", actor=admin_user).exists()


def test_a_test_client_with_an_issued_invoice_is_kept_with_the_reason(admin_user):
    tester = ClientFactory(email="qa@example.com")
    invoiced = InvoiceFactory(cart__client=tester).cart
    open_cart = CartFactory(client=tester)

    run = cleanup_test_data(dry_run=False, actor=admin_user)

    assert Client.all_objects.filter(pk=tester.pk).exists()
    assert Cart.objects.filter(pk=invoiced.pk).exists() and Invoice.objects.count() == 1
    assert not Cart.objects.filter(pk=open_cart.pk).exists()
    assert run.counts["crm_client"] == {"kept: has invoices": 1}
    assert run.counts["sales_cart"] == {"kept: has invoices": 1, "removed": 1}


def test_a_test_product_sold_in_a_real_sale_is_kept(salon, admin_user):
    product = make_product(sku="TEST-0002")
    CartItemFactory(cart=CartFactory(client=salon["client"]), service=None, product=product, name="Cream")

    run = cleanup_test_data(dry_run=False, actor=admin_user)

    assert Product.all_objects.filter(pk=product.pk).exists()
    assert run.counts["catalog_product"] == {"kept: in use by sale lines": 1}


def test_the_patterns_come_from_the_settings(settings, admin_user):
    settings.CLEANUP_TEST_EMAIL_DOMAINS = ["qa.salon.example"]
    settings.CLEANUP_TEST_SKU_PREFIXES = ["ZZ"]
    gone = [ClientFactory(email="a@qa.salon.example"), make_product(sku="ZZ-1")]
    stays = [ClientFactory(email="b@test.com"), make_product(sku="TEST-1")]

    cleanup_test_data(dry_run=False, actor=admin_user)

    assert [type(o)._base_manager.filter(pk=o.pk).exists() for o in gone + stays] == [False, False, True, True]


def test_administrators_and_the_person_running_it_are_never_removed(admin_user):
    from crm.models import Role

    owner = User.objects.create_user("owner@example.com", "x-long-password-1", name="O", role=Role.ADMIN)
    tester = User.objects.create_user("qa@example.com", "x-long-password-1", name="Q", role=Role.STAFF)
    me = User.objects.create_user("me@test.com", "x-long-password-1", name="M", role=Role.MANAGER)

    cleanup_test_data(dry_run=False, actor=me)

    assert set(User.all_objects.filter(pk__in=[owner.pk, tester.pk, me.pk])) == {owner, me}


def test_a_dry_run_changes_nothing_and_predicts_the_real_run_exactly(salon, admin_user):
    demo_data_seed(clients=6, random_seed=5)
    ClientFactory(email="qa@test.com")
    before = row_counts()

    preview = cleanup_test_data(dry_run=True, actor=admin_user)

    assert row_counts() == before
    assert preview.outcome == "DRY_RUN"
    done = cleanup_test_data(dry_run=False, actor=admin_user)
    assert done.counts == preview.counts


# --- Orphans -------------------------------------------------------------------------------


@pytest.fixture
def orphans():
    """A client deleted behind Django's back, with foreign-key checks off, as a manual SQL
    import would: its consent, its gift card and its booking are left pointing at nothing."""
    client = ClientFactory()
    rows = {"consent": ConsentFactory(client=client), "gift_card": GiftCardFactory(owner=client),
            "booking": BookingFactory(client=client), "client_id": client.pk}  # fmt: skip
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name('crm_client')} WHERE id = %s", [client.pk])
    yield rows
    # SQLite checks deferred foreign keys when the test ends: leave no orphan behind.
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        for table in ("bookings_bookingitem", "bookings_booking", "crm_consent"):
            column = "booking_id" if table == "bookings_bookingitem" else "client_id"
            parent = "bookings_booking" if table == "bookings_bookingitem" else "crm_client"
            q = connection.ops.quote_name
            cursor.execute(f"DELETE FROM {q(table)} WHERE {q(column)} NOT IN (SELECT id FROM {q(parent)})")
        cursor.execute(
            "UPDATE marketing_giftcard SET owner_id = NULL WHERE owner_id NOT IN (SELECT id FROM crm_client)"
        )


def test_orphans_are_found_with_one_query_per_relation(orphans):
    with CaptureQueriesContext(connection) as queries:
        found = orphans_find()

    assert len(queries) == len(orphan_relations()) > 30
    by_relation = {o.relation.label: o for o in found}
    assert set(by_relation) == {"crm.Consent.client", "marketing.GiftCard.owner", "bookings.Booking.client"}
    assert by_relation["crm.Consent.client"].rows == [(orphans["consent"].pk, orphans["client_id"])]


def test_orphans_are_fixed_by_their_relation_s_rule(orphans, admin_user):
    run = orphans_fix(dry_run=False, actor=admin_user)

    assert not Consent.objects.filter(pk=orphans["consent"].pk).exists()  # CASCADE: deleted
    assert GiftCard.objects.get(pk=orphans["gift_card"].pk).owner_id is None  # SET_NULL: nulled
    assert Booking.objects.get(pk=orphans["booking"].pk).client_id == orphans["client_id"]  # PROTECT: reported
    assert run.counts == {"crm_consent": {"removed": 1}, "marketing_giftcard": {"nulled": 1},
                          "bookings_booking": {"needs a person": 1}}  # fmt: skip
    assert orphans_find()[0].relation.label == "bookings.Booking.client"


def test_an_orphan_dry_run_reports_and_changes_nothing(orphans, admin_user):
    before = row_counts()

    run = orphans_fix(dry_run=True, actor=admin_user)

    assert row_counts() == before
    assert GiftCard.objects.get(pk=orphans["gift_card"].pk).owner_id == orphans["client_id"]
    assert {o["relation"]: o["rule"] for o in run.detail["orphans"]} == {
        "crm.Consent.client": "removed", "marketing.GiftCard.owner": "nulled", "bookings.Booking.client": "needs a person"
    }  # fmt: skip


def test_a_relation_whose_parent_may_be_archived_does_not_count_archived_parents(orphans, monkeypatch):
    from maintenance import cleanup

    monkeypatch.setitem(
        cleanup.ARCHIVED_PARENTS, "crm.Consent.client", lambda: Booking.objects.values("client_id")
    )  # stands in for an archive table holding the missing client

    assert "crm.Consent.client" not in {o.relation.label for o in orphans_find()}


@pytest.fixture
def sale_line_orphan(orphans):
    """Besides ``orphans``: a product deleted behind Django's back, leaving a sale line that
    names it as its one target (a line must name exactly one product, service, pack or bono)."""
    product = make_product()
    line = CartItemFactory(service=None, product=product, name=product.name)
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_product WHERE id = %s", [product.pk])
    yield {**orphans, "line": line, "product_id": product.pk}
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM sales_cartitem WHERE product_id NOT IN (SELECT id FROM catalog_product)")


def test_orphans_are_fixed_without_breaking_a_check_constraint(sale_line_orphan, admin_user):
    orphans = sale_line_orphan

    run = orphans_fix(dry_run=False, actor=admin_user)

    assert not Consent.objects.filter(pk=orphans["consent"].pk).exists()  # CASCADE: deleted
    assert GiftCard.objects.get(pk=orphans["gift_card"].pk).owner_id is None  # SET_NULL: nulled
    assert Booking.objects.get(pk=orphans["booking"].pk).client_id == orphans["client_id"]  # PROTECT: reported
    # Nulling the line's product would leave it naming nothing: the sale line is history, so
    # it is kept as it is and reported for a person, like a required reference.
    line = CartItem.objects.get(pk=orphans["line"].pk)
    assert (line.product_id, line.name) == (orphans["product_id"], orphans["line"].name)
    assert run.outcome == "SUCCESS"
    assert run.counts == {"crm_consent": {"removed": 1}, "marketing_giftcard": {"nulled": 1},
                          "bookings_booking": {"needs a person": 1},
                          "sales_cartitem": {"needs a person: sales_cartitem_exactly_one_target": 1}}  # fmt: skip
    assert {o.relation.label for o in orphans_find()} == {"bookings.Booking.client", "sales.CartItem.product"}


def test_an_orphan_fix_that_fails_midway_leaves_nothing_half_fixed(sale_line_orphan, admin_user, monkeypatch):
    from maintenance import cleanup

    orphans = sale_line_orphan
    real_null = cleanup._null_references

    def null_then_fail(*args, **kwargs):
        real_null(*args, **kwargs)
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(cleanup, "_null_references", null_then_fail)

    with pytest.raises(RuntimeError, match="the disk filled up"):
        orphans_fix(dry_run=False, actor=admin_user)

    assert Consent.objects.filter(pk=orphans["consent"].pk).exists()
    assert GiftCard.objects.get(pk=orphans["gift_card"].pk).owner_id == orphans["client_id"]
    run = LifecycleRun.objects.latest("started_at")
    assert (run.outcome, run.counts) == ("FAILURE", {})
    assert {o.relation.label for o in orphans_find()} == {
        "crm.Consent.client", "marketing.GiftCard.owner", "bookings.Booking.client", "sales.CartItem.product"
    }  # fmt: skip


# --- The trash -----------------------------------------------------------------------------


def test_trash_purge_deletes_only_old_unprotected_deactivated_rows(admin_user, settings):
    settings.TRASH_PURGE_DAYS = 365
    old, recent, active = ClientFactory(), ClientFactory(), ClientFactory()
    with_history = BookingFactory().client
    deactivate(old, 400), deactivate(recent, 30), deactivate(with_history, 400)
    ConsentFactory(client=old)

    run = trash_purge(model=Client, dry_run=False, actor=admin_user)

    assert set(Client.all_objects.all()) == {recent, active, with_history}
    assert run.counts["crm_client"] == {"removed": 1, "kept: protected": 1}
    assert run.counts["crm_consent"] == {"removed": 1}


def test_trash_purge_keeps_rows_protected_further_down_a_cascade(admin_user):
    from tests.factories import ClientBonusFactory

    client = ClientFactory()
    CartItemFactory(client_bonus=ClientBonusFactory(client=client), service=None, name="Session", cart__client=None)
    deactivate(client, 400)

    preview = trash_purge(model=Client, dry_run=True, actor=admin_user)
    run = trash_purge(model=Client, dry_run=False, actor=admin_user)

    assert Client.all_objects.filter(pk=client.pk).exists()
    assert preview.counts == run.counts == {"crm_client": {"kept: protected": 1}}


def test_trash_purge_covers_every_soft_delete_model_by_default(admin_user):
    product, sold = make_product(), make_product()
    CartItemFactory(product=sold, service=None, name="Cream")
    deactivate(product, 800), deactivate(sold, 800)

    run = trash_purge(dry_run=False, actor=admin_user)

    assert list(Product.all_objects.all()) == [sold]
    assert run.counts["catalog_product"] == {"removed": 1, "kept: protected": 1}
    assert "crm.Client" in run.detail["models"]


# --- The whole operation -------------------------------------------------------------------


def test_cleanup_run_does_the_parts_asked_in_order_and_tells_its_progress(admin_user):
    old = ClientFactory()
    deactivate(old, 400)
    tester = ClientFactory(email="qa@test.com")
    told = []

    runs = cleanup_run(dry_run=False, test_data=True, orphans=True, trash=Trash(), actor=admin_user,
                       progress=lambda percent, message: told.append((percent, message)))  # fmt: skip

    assert list(runs) == ["test_data", "orphans", "trash"]
    assert [runs[part].dry_run for part in runs] == [False, True, False]  # orphans: reported, not fixed
    assert told == [(0, "Removing test data"), (33, "Looking for orphaned rows"), (66, "Purging the trash")]
    assert not Client.all_objects.filter(pk__in=[old.pk, tester.pk]).exists()
    assert LifecycleRun.objects.filter(kind="CLEANUP").count() == 3


def test_a_dry_cleanup_run_fixes_no_orphan_and_purges_only_the_trash_asked(orphans, admin_user):
    kept, gone = ClientFactory(), ClientFactory()
    deactivate(kept, 1), deactivate(gone, 1)

    runs = cleanup_run(dry_run=True, orphans=True, fix_orphans=True, trash=Trash(model=Client, older_than_days=0,
                       pks=(gone.pk,)), actor=admin_user)  # fmt: skip

    assert runs["orphans"].dry_run and Consent.objects.filter(pk=orphans["consent"].pk).exists()
    assert runs["trash"].counts == {"crm_client": {"removed": 1}}
    assert Client.all_objects.filter(pk__in=[kept.pk, gone.pk]).count() == 2
    assert cleanup_run(dry_run=True) == {}


# --- The command ---------------------------------------------------------------------------


def test_the_command_s_dry_run_previews_and_changes_nothing(salon):
    ClientFactory(email="qa@test.com")
    before = row_counts()
    out = __import__("io").StringIO()

    call_command("cleanup", "--test-data", "--dry-run", stdout=out)

    assert row_counts() == before
    assert "Test data: preview" in out.getvalue() and "crm_client" in out.getvalue()


def test_the_command_asks_before_removing_and_stops_on_no(salon, monkeypatch):
    tester = ClientFactory(email="qa@test.com")
    monkeypatch.setattr("builtins.input", lambda prompt: "no")

    call_command("cleanup", "--test-data", stdout=__import__("io").StringIO())

    assert Client.all_objects.filter(pk=tester.pk).exists()


def test_the_command_with_noinput_and_json_removes_and_reports(salon):
    tester = ClientFactory(email="qa@test.com")
    out = __import__("io").StringIO()

    call_command("cleanup", "--test-data", "--orphans", "--purge-trash", "--noinput", "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert report["ok"] is True
    assert report["operations"]["test_data"]["preview"]["counts"]["crm_client"] == {"removed": 1}
    assert report["operations"]["test_data"]["result"]["counts"]["crm_client"] == {"removed": 1}
    assert report["operations"]["orphans"]["preview"]["orphans"] == []
    assert not Client.all_objects.filter(pk=tester.pk).exists()


def test_the_command_fails_without_an_operation_or_with_json_that_would_ask():
    with pytest.raises(CommandError, match="Say what to clean"):
        call_command("cleanup")
    with pytest.raises(CommandError, match="--noinput"):
        call_command("cleanup", "--test-data", "--json")


def test_the_command_fails_when_another_cleanup_runs(monkeypatch):
    from backups.locks import MaintenanceBusy

    def busy(**kwargs):
        raise MaintenanceBusy("Another cleanup is running.")

    monkeypatch.setattr("maintenance.cleanup.cleanup_test_data", busy)
    out = __import__("io").StringIO()
    with pytest.raises(CommandError, match="Another cleanup"):
        call_command("cleanup", "--test-data", "--dry-run", "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"] is False


# --- Scheduling ----------------------------------------------------------------------------


def test_the_nightly_cleanup_is_scheduled_at_four_after_migrate():
    task = PeriodicTask.objects.get(name="Nightly cleanup")
    assert (task.task, task.crontab.hour, task.crontab.minute, task.enabled) == ("maintenance.cleanup", "4", "0", True)
    assert "never removed automatically" in task.description


def test_the_nightly_task_reports_orphans_and_purges_old_trash_but_keeps_test_data(orphans):
    old = ClientFactory()
    deactivate(old, 400)
    tester = ClientFactory(email="qa@test.com")

    cleanup_task.apply()

    assert not Client.all_objects.filter(pk=old.pk).exists()
    assert Client.all_objects.filter(pk=tester.pk).exists()
    assert Consent.objects.filter(pk=orphans["consent"].pk).exists()  # reported, not fixed
    report, purge = LifecycleRun.objects.order_by("started_at", "pk")
    assert (report.outcome, purge.outcome) == ("DRY_RUN", "SUCCESS")
    assert len(report.detail["orphans"]) == 3


# --- The admin -----------------------------------------------------------------------------


def _purge_through_the_admin(browser, *objs):
    url = reverse("admin:crm_client_changelist")
    return browser.post(
        f"{url}?active=all",
        {"action": "purge_selected", "_selected_action": [o.pk for o in objs]},
        follow=True,
    )


def test_an_admin_purges_selected_trash_and_is_told_what_was_kept(admin_browser, admin_user):
    gone, kept = ClientFactory(), BookingFactory().client
    deactivate(gone, 1), deactivate(kept, 1)

    response = _purge_through_the_admin(admin_browser, gone, kept)

    assert list(Client.all_objects.filter(pk__in=[gone.pk, kept.pk])) == [kept]
    text = response.content.decode()
    assert "1 row purged." in text and "1 row kept" in text
    assert AuditEntry.objects.filter(action="maintenance.cleanup.done", actor=admin_user).exists()


def test_the_purge_action_never_touches_active_rows(admin_browser):
    active = ClientFactory()

    response = _purge_through_the_admin(admin_browser, active)

    assert Client.all_objects.filter(pk=active.pk).exists()
    assert "1 active row skipped" in response.content.decode()


@pytest.mark.parametrize("persona", ["manager_browser", "staff_browser"])
def test_managers_and_staff_cannot_purge(persona, request):
    browser = request.getfixturevalue(persona)
    client = ClientFactory()
    deactivate(client, 400)

    response = _purge_through_the_admin(browser, client)

    assert Client.all_objects.filter(pk=client.pk).exists()
    assert "purge_selected" not in browser.get(reverse("admin:crm_client_changelist")).content.decode()
    assert response.status_code in (200, 403)


def test_every_model_with_a_trash_is_known_to_the_cleanup():
    soft = {m._meta.label for m in apps.get_models() if hasattr(m, "deactivated_at")}
    assert soft <= {m._meta.label for m in cleaned_models()}
