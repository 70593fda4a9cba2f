"""The import from a real legacy database on MariaDB: reconciled to the cent, idempotent,
resumable, honest about doubtful rows, and a dry run that writes nothing."""

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum

from audit.models import AuditEntry, Outcome
from bookings.models import Booking, BookingItem, BookingStatus
from catalog.models import Product, Service
from crm.erasure import client_erase
from crm.models import Client, Consent, Questionnaire, Revoke, Role, User
from legacy.importer import ENTITIES, Importer
from legacy.models import LegacyError, LegacyImportRun, LegacyInvoice, LegacyKey, RunState
from legacy.services import legacy_import
from marketing.models import Bonus, BonusRedemption, ClientBonus, Coupon, GiftCard, GiftCardMovement
from sales.chain import invoice_chain_verify
from sales.models import Cart, CartItem, Debt, DebtPayment, Invoice, Payment
from sales.services import LineRequest, PaymentRequest, cart_checkout

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.skipif(connection.vendor != "mysql", reason="needs MariaDB"),
    pytest.mark.django_db,
]

MODELS = [Client, User, Consent, Questionnaire, Revoke, Product, Service, Bonus, ClientBonus, Booking, BookingItem,
          Cart, CartItem, Payment, Debt, DebtPayment, Coupon, GiftCard, GiftCardMovement, BonusRedemption,
          LegacyInvoice, LegacyKey]  # fmt: skip


def row_counts() -> dict[str, int]:
    return {model.__name__: model._base_manager.count() for model in MODELS}


@pytest.fixture
def salon(legacy_db):
    return legacy_db.load(clients=120, seed=3)


def check(report: dict, name: str) -> dict:
    return next(c for c in report["checks"] if c["name"] == name)


def test_an_import_reconciles_every_total_to_the_cent(salon):
    report = legacy_import(url=salon.url)

    assert report["reconciled"], [c for c in report["checks"] if not c["ok"]]
    open_debt = salon.scalar("SELECT SUM(CAST(remaining AS DECIMAL(16,2))) FROM debts")
    assert check(report, "open debt")["beils"] == f"{open_debt:.2f}"
    assert Debt.objects.aggregate(s=Sum("remaining"))["s"] == open_debt
    sold = salon.scalar(
        "SELECT SUM(CAST(total AS DECIMAL(16,2))) FROM carts WHERE status = 'completed' OR cart_id IN (SELECT cart_id FROM debts)"
    )
    assert Cart.objects.completed().aggregate(s=Sum("total"))["s"] == sold
    assert ClientBonus.objects.aggregate(s=Sum("sessions_remaining"))["s"] == salon.scalar(
        "SELECT SUM(remaining_sessions) FROM client_packages"
    )
    assert Client.all_objects.count() == salon.scalar("SELECT COUNT(*) FROM users WHERE role = 'CLIENT'")
    assert Booking.objects.count() == salon.scalar("SELECT COUNT(*) FROM bookings")
    assert LegacyInvoice.objects.count() == salon.scalar("SELECT COUNT(*) FROM carts WHERE invoice_number IS NOT NULL")
    assert GiftCard.objects.get(code="GC7K2M9Q").current_balance == Decimal("20.00")
    assert report["legacy_series"]["invoices"] == LegacyInvoice.objects.count()
    assert report["legacy_series"]["gaps"] == [] and len(report["legacy_series"]["seal_sha256"]) == 64
    run = LegacyImportRun.objects.get(pk=report["run"])
    assert run.state == RunState.DONE and "root@" in run.source
    assert AuditEntry.objects.filter(action="legacy.import.completed", outcome=Outcome.SUCCESS).count() == 1


def test_the_old_systems_habits_become_nulls_and_choices(salon):
    report = legacy_import(url=salon.url)

    placeholders = salon.scalar("SELECT COUNT(*) FROM users WHERE email LIKE '%%@cliente.local'")
    assert placeholders and Client.all_objects.filter(email__isnull=True).count() == placeholders
    assert not Client.all_objects.filter(email="").exists() and not Client.all_objects.filter(phone="").exists()
    unknown_birth = salon.scalar("SELECT COUNT(*) FROM users WHERE role = 'CLIENT' AND birth_date = DATE(created_at)")
    assert Client.all_objects.filter(birth_date__isnull=True).count() == unknown_birth
    assert set(Booking.objects.values_list("status", flat=True)) <= set(BookingStatus.values)
    legacy_id, start, day = salon.sql("SELECT booking_id, start_time, booking_date FROM bookings LIMIT 1")[0]
    booking = Booking.objects.get(legacy_id=legacy_id)
    local = booking.start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Madrid"))
    assert (local.date(), local.strftime("%H:%M")) == (day.date(), start)
    staff = User.all_objects.get(email="admin@beils.example")
    assert staff.role == Role.ADMIN and not staff.has_usable_password()
    assert {s["email"] for s in report["password_steps"]} >= {"admin@beils.example", "staff0@beils.example"}
    redeemed = salon.scalar("SELECT COUNT(*) FROM cart_items WHERE item_type = 'package'")
    assert CartItem.objects.filter(client_bonus__isnull=False).count() == redeemed
    assert BonusRedemption.objects.count() == redeemed
    assert report["duplicates"], "the generator registers some people twice"


def test_running_it_twice_changes_no_count_and_duplicates_nothing(salon):
    legacy_import(url=salon.url)
    before = row_counts()

    again = legacy_import(url=salon.url)

    assert row_counts() == before
    assert again["reconciled"]
    assert sum(c["created"] for c in again["counts"].values()) == 0
    assert again["counts"]["users"]["unchanged"] == salon.scalar("SELECT COUNT(*) FROM users")


def test_a_second_run_updates_what_changed_in_the_old_database(salon):
    legacy_import(url=salon.url)
    legacy_id = salon.scalar("SELECT user_id FROM users WHERE role = 'CLIENT' ORDER BY user_id LIMIT 1")
    salon.sql("UPDATE users SET city = 'Ourense' WHERE user_id = %s", (legacy_id,))

    again = legacy_import(url=salon.url)

    assert Client.all_objects.get(legacy_id=legacy_id).city == "Ourense"
    assert again["counts"]["users"]["updated"] == 1


def test_an_interrupted_import_is_resumed_by_the_next_run(salon, monkeypatch):
    def power_cut(self):
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(Importer, "import_bookings", power_cut)
        with pytest.raises(RuntimeError):
            legacy_import(url=salon.url)
    failed = LegacyImportRun.objects.get()
    assert failed.state == RunState.FAILED and "power cut" in failed.error
    assert failed.entities_done == ENTITIES[: ENTITIES.index("bookings")]
    assert Booking.objects.count() == 0 and Client.all_objects.exists()
    assert AuditEntry.objects.filter(action="legacy.import.failed", outcome=Outcome.FAILURE).exists()

    report = legacy_import(url=salon.url)

    assert report["resumed"] == failed.entities_done
    assert report["reconciled"]
    assert Booking.objects.count() == salon.scalar("SELECT COUNT(*) FROM bookings")
    assert LegacyImportRun.objects.get(pk=report["run"]).resumed_from == failed
    # Finished: the next run starts from the beginning again, skipping nothing.
    assert legacy_import(url=salon.url)["resumed"] == []


def test_a_dry_run_writes_nothing(salon):
    audit_before = AuditEntry.objects.count()

    report = legacy_import(url=salon.url, dry_run=True)

    assert report["dry_run"] and report["reconciled"]
    assert report["counts"]["users"]["created"] == salon.scalar("SELECT COUNT(*) FROM users")
    assert all(n == 0 for n in row_counts().values()), row_counts()
    assert not LegacyImportRun.objects.exists()
    assert AuditEntry.objects.count() == audit_before


def test_orphaned_lines_and_odd_statuses_are_reported_not_crashed(salon):
    cart_id = salon.scalar("SELECT cart_id FROM carts WHERE status = 'completed' LIMIT 1")
    salon.sql(
        "INSERT INTO cart_items (cart_item_id, cart_id, item_type, item_id, name, quantity, unit_price, subtotal, total, "
        "updated_at) VALUES ('orphan-line', %s, 'product', 'no-such-product', 'Ghost', 1, 10, 10, 10, NOW()), "
        "('odd-type-line', %s, 'voucher', 'x', 'Odd', 1, 5, 5, 5, NOW())",
        (cart_id, cart_id),
    )
    booking_id = salon.scalar("SELECT booking_id FROM bookings WHERE booking_date < '2026-01-01' LIMIT 1")
    salon.sql("UPDATE bookings SET status = 'EN_CURSO' WHERE booking_id = %s", (booking_id,))
    bad_time = salon.scalar(
        "SELECT booking_id FROM bookings WHERE booking_date < '2026-01-01' AND booking_id <> %s LIMIT 1", (booking_id,)
    )
    salon.sql("UPDATE bookings SET start_time = '27:90' WHERE booking_id = %s", (bad_time,))
    salon.sql(
        "UPDATE carts SET status = 'a medias' WHERE cart_id <> %s AND invoice_number IS NOT NULL LIMIT 1", (cart_id,)
    )

    report = legacy_import(url=salon.url)

    reasons = {(p["entity"], p["reason"]): p for p in report["problems"]}
    orphan = reasons[("cart_items", "sale line points at nothing")]
    assert orphan["count"] == 2 and "orphan-line (product no-such-product)" in orphan["examples"]
    assert reasons[("bookings", "unknown booking status 'EN_CURSO'")]["action"] == "imported as pending"
    assert Booking.objects.get(legacy_id=booking_id).status == BookingStatus.PENDING
    assert (
        f"{bad_time} (start time '27:90' is not HH:mm)" in reasons[("bookings", "impossible date or time")]["examples"]
    )
    assert not Booking.objects.filter(legacy_id=bad_time).exists()
    assert ("carts", "unknown sale status 'a medias'") in reasons
    assert report["counts"]["cart_items"]["skipped"] == 2
    # The sale keeps its total, so the money still reconciles.
    assert report["reconciled"], [c for c in report["checks"] if not c["ok"]]


def test_the_command_exits_non_zero_when_a_total_does_not_reconcile(salon):
    debt_id = salon.scalar("SELECT debt_id FROM debts WHERE amount > 0 LIMIT 1")
    salon.sql("UPDATE debts SET remaining = amount + 100 WHERE debt_id = %s", (debt_id,))
    out = StringIO()

    with pytest.raises(CommandError, match="do not reconcile"):
        call_command("import_legacy", "--from", salon.url, "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert not check(report, "open debt")["ok"]
    assert LegacyImportRun.objects.get().state == RunState.UNRECONCILED
    assert AuditEntry.objects.get(action="legacy.import.completed").outcome == Outcome.FAILURE


def test_beils_issues_its_own_invoices_after_the_legacy_series(salon, settings):
    legacy_import(url=salon.url)
    client = Client.objects.filter(legacy_id__isnull=False).first()
    product = Product.objects.filter(stock__gt=0).first()

    result = cart_checkout(lines=[LineRequest(product=product)], payments=[PaymentRequest("CASH", None)], client=client)

    assert result.invoice.number.startswith(settings.INVOICE_SERIES) and result.invoice.previous_hash is None
    assert Invoice.objects.count() == 1
    assert invoice_chain_verify().ok
    assert LegacyInvoice.objects.filter(number__startswith="BBH-").count() == LegacyInvoice.objects.count()
    out = StringIO()
    call_command("verifyinvoices", stdout=out)
    assert "intact" in out.getvalue()


def test_a_wrong_password_is_refused_without_being_shown(salon):
    with pytest.raises(LegacyError) as refused:
        legacy_import(url=salon.url.replace("root@", "root:S3cret-Pw@"))

    assert "S3cret-Pw" not in str(refused.value)
    assert not LegacyImportRun.objects.filter(source__contains="S3cret").exists()
    failed = AuditEntry.objects.get(action="legacy.import.failed")
    assert failed.outcome == Outcome.FAILURE and "S3cret" not in json.dumps(failed.detail)


def test_the_celery_task_runs_a_queued_import(salon, admin_user):
    from legacy.tasks import run_legacy_import

    run = LegacyImportRun.objects.create(source=salon.url, actor=admin_user)

    run_legacy_import.apply(args=(run.pk, None))

    run.refresh_from_db()
    assert run.state == RunState.DONE and run.rows_done == run.rows_total > 0
    assert run.report["reconciled"] and run.entities_done == ENTITIES
    assert AuditEntry.objects.get(action="legacy.import.completed").actor == admin_user


def test_birth_dates_in_the_future_are_reported_and_left_unknown(salon):
    legacy_id = salon.scalar("SELECT user_id FROM users WHERE role = 'CLIENT' ORDER BY user_id LIMIT 1")
    salon.sql("UPDATE users SET birth_date = '2199-01-01' WHERE user_id = %s", (legacy_id,))

    report = legacy_import(url=salon.url)

    assert Client.all_objects.get(legacy_id=legacy_id).birth_date is None
    problem = next(p for p in report["problems"] if p["reason"] == "impossible birth date")
    assert f"{legacy_id} ({date(2199, 1, 1).isoformat()})" in problem["examples"]


def test_a_gap_in_the_old_invoice_series_is_reported(salon):
    number = salon.scalar(
        "SELECT MAX(invoice_number) FROM carts WHERE invoice_number LIKE 'BBH-%%' AND invoice_number NOT LIKE '%%-0000'"
    )
    salon.sql("UPDATE carts SET invoice_number = NULL, hash = NULL WHERE invoice_number = %s", (number,))

    report = legacy_import(url=salon.url)

    assert report["legacy_series"]["gaps"] == [number]
    assert report["reconciled"]


def test_a_second_import_while_one_is_running_is_refused(salon):
    running = LegacyImportRun.objects.create(source=salon.url, state=RunState.RUNNING)

    with pytest.raises(LegacyError, match=f"#{running.pk}"):
        legacy_import(url=salon.url)

    refused = LegacyImportRun.objects.exclude(pk=running.pk).get()
    assert refused.state == RunState.FAILED and not Client.all_objects.exists()


def test_a_booking_without_lines_keeps_the_service_on_its_own_row(salon):
    booking_id, service_id = salon.sql("SELECT booking_id, item_id FROM bookings LIMIT 1")[0]
    salon.sql("DELETE FROM booking_items WHERE booking_id = %s", (booking_id,))

    legacy_import(url=salon.url)

    [item] = Booking.objects.get(legacy_id=booking_id).items.all()
    assert item.service == Service.all_objects.get(legacy_id=service_id) and item.name == item.service.name
    assert BookingItem.objects.count() == salon.scalar("SELECT COUNT(*) FROM bookings")


def test_a_gift_card_spent_since_the_last_import_moves_through_the_ledger(salon):
    legacy_import(url=salon.url)
    salon.sql("UPDATE giftcards SET current_balance = 12.5 WHERE code = 'GC7K2M9Q'")

    report = legacy_import(url=salon.url)

    card = GiftCard.objects.get(code="GC7K2M9Q")
    assert card.current_balance == Decimal("12.50")
    assert card.movements.aggregate(s=Sum("amount"))["s"] == card.current_balance
    assert check(report, "gift card balances")["ok"]


def test_values_beils_constraints_refuse_are_corrected_and_reported(salon):
    product_id = salon.scalar("SELECT product_id FROM products ORDER BY product_id LIMIT 1")
    salon.sql("UPDATE products SET tax_rate = 250 WHERE product_id = %s", (product_id,))
    line_id = salon.scalar("SELECT booking_item_id FROM booking_items ORDER BY booking_item_id LIMIT 1")
    salon.sql("UPDATE booking_items SET duration = -5 WHERE booking_item_id = %s", (line_id,))
    cart_id = salon.scalar("SELECT cart_id FROM carts WHERE discount = 0 ORDER BY cart_id LIMIT 1")
    salon.sql("UPDATE carts SET discount = -3 WHERE cart_id = %s", (cart_id,))

    report = legacy_import(url=salon.url)

    assert Product.all_objects.get(legacy_id=product_id).tax_rate == Decimal("21.00")
    assert BookingItem.objects.get(pk=LegacyKey.objects.get(legacy_id=line_id).object_id).duration_minutes > 0
    assert Cart.objects.get(legacy_id=cart_id).discount_total == Decimal("0.00")
    reasons = {(p["entity"], p["reason"]) for p in report["problems"]}
    assert {("products", "VAT rate outside 0–100 %"), ("carts", "negative discount")} <= reasons
    assert report["reconciled"]


def test_a_client_erased_in_beils_stays_erased_when_the_import_runs_again(salon):
    legacy_import(url=salon.url)
    client = Client.all_objects.exclude(carts=None).filter(consents__isnull=False).first()
    lonely = Client.all_objects.filter(carts=None, bookings=None, debts=None).first()
    values = [client.name, client.email, client.phone]
    client_erase(client=client, actor=None)
    client_erase(client=lonely, actor=None)  # no history: deleted outright

    again = legacy_import(url=salon.url)

    erased = Client.all_objects.get(pk=client.pk)
    assert erased.erased_at is not None and erased.email is None and erased.name == f"Erased client {client.pk}"
    assert not erased.consents.exists() and not erased.questionnaires.exists()
    assert not erased.carts.exclude(notes=None).exists() and not erased.bookings.exclude(notes=None).exists()
    assert not Client.all_objects.filter(email__in=[v for v in values if v]).exists()
    assert not Client.all_objects.filter(legacy_id=lonely.legacy_id).exists()
    assert again["reconciled"], [c for c in again["checks"] if not c["ok"]]
    reasons = {p["reason"] for p in again["problems"]}
    assert "the client was erased in Beils (GDPR)" in reasons
    assert again["counts"]["users"]["skipped"] == 2
