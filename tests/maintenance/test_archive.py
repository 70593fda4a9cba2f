"""Archiving and retention: old sales move to the archive tables and back without a row lost,
duplicated or changed; the other policies deactivate, list and rotate."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.models import AuditEntry, Outcome
from crm.models import Client, User
from maintenance import archive
from maintenance.archive import archive_restore, archive_run
from maintenance.models import LifecycleRun, RetentionPolicy
from sales.models import ArchivedCart, ArchivedCartItem, ArchivedPayment, Cart, CartItem, DebtStatus, Payment
from tests import factories as f
from tests.helpers import admin_url

pytestmark = pytest.mark.django_db

OLD = timezone.now() - timedelta(days=3 * 365)


def _old_sale(**kwargs):
    cart = f.CompletedCartFactory(completed_at=OLD, **kwargs)
    f.CartItemFactory(cart=cart)
    f.CartItemFactory(cart=cart)
    f.PaymentFactory(cart=cart)
    return cart


def _snapshot():
    """Every column of every sale, line and payment, wherever they live now."""

    def rows(model, archived):
        columns = [f.attname for f in model._meta.concrete_fields]
        live = list(model.objects.order_by("pk").values_list(*columns))
        gone = list(archived.objects.order_by("pk").values_list(*columns))
        return sorted(live + gone)

    return (rows(Cart, ArchivedCart), rows(CartItem, ArchivedCartItem), rows(Payment, ArchivedPayment))


def _counts():
    return [m.objects.count() for m in (Cart, CartItem, Payment, ArchivedCart, ArchivedCartItem, ArchivedPayment)]


def test_old_completed_sales_move_with_their_lines_and_payments_and_keep_their_ids():
    old, recent = _old_sale(), f.CompletedCartFactory()
    invoice = f.InvoiceFactory(cart=old)

    run = archive_run(dry_run=False)

    assert list(Cart.objects.values_list("pk", flat=True)) == [recent.pk]
    archived = ArchivedCart.objects.get()
    assert (archived.pk, archived.total, archived.client_id) == (old.pk, old.total, old.client_id)
    assert ArchivedCartItem.objects.filter(cart_id=old.pk).count() == 2
    assert ArchivedPayment.objects.filter(cart_id=old.pk).count() == 1
    invoice.refresh_from_db()
    assert invoice.cart_id == old.pk  # the fiscal record still names its sale
    assert run.counts["sales_cart"] == {"moved": 1}
    assert run.detail["policies"]["completed-sales"]["sales_cartitem"] == {"moved": 2}


def test_archive_then_restore_gives_back_identical_rows():
    for _ in range(3):
        _old_sale()
    before = _snapshot()

    archive_run(dry_run=False)
    assert Cart.objects.count() == 0
    archive_restore(dry_run=False, before=timezone.now())

    assert _snapshot() == before
    assert (Cart.objects.count(), ArchivedCart.objects.count()) == (3, 0)


def test_a_dry_run_reports_per_policy_and_changes_nothing():
    _old_sale()
    before = _counts()

    run = archive_run(dry_run=True)

    assert _counts() == before
    assert run.outcome == Outcome.DRY_RUN
    assert run.detail["policies"]["completed-sales"]["sales_cart"] == {"would move": 1}


def test_an_archive_run_tells_its_progress_before_each_policy():
    told = []

    archive_run(dry_run=True, progress=lambda percent, message: told.append((percent, message)))

    policies = list(RetentionPolicy.objects.filter(enabled=True))
    assert told == [(100 * n // len(policies), f"Applying {p.name}") for n, p in enumerate(policies)]


def test_sales_with_an_open_debt_or_recent_stay_live():
    with_debt = _old_sale()
    f.DebtFactory(cart=with_debt, client=with_debt.client, status=DebtStatus.PARTIAL)
    f.CompletedCartFactory(completed_at=timezone.now() - timedelta(days=100))

    archive_run(dry_run=False)

    assert Cart.objects.count() == 2
    assert not ArchivedCart.objects.exists()


def test_a_run_killed_between_batches_loses_and_duplicates_nothing_and_the_next_run_finishes(monkeypatch, settings):
    for _ in range(5):
        _old_sale()
    before = _snapshot()
    real, batches = archive._move_batch, []

    def dies_on_the_third_batch(family, ids, run, *, restore):
        if len(batches) == 2:
            raise SystemExit("worker killed")
        batches.append(ids)
        real(family, ids, run, restore=restore)

    monkeypatch.setattr(archive, "_move_batch", dies_on_the_third_batch)
    settings.ARCHIVE_BATCH_SIZE = 2
    with pytest.raises(SystemExit):
        archive_run(dry_run=False)

    assert (Cart.objects.count(), ArchivedCart.objects.count()) == (1, 4)
    assert _snapshot() == before
    failed = LifecycleRun.objects.get(outcome=Outcome.FAILURE)
    assert failed.counts["sales_cart"] == {"moved": 4}

    monkeypatch.setattr(archive, "_move_batch", real)
    archive_run(dry_run=False)

    assert (Cart.objects.count(), ArchivedCart.objects.count()) == (0, 5)
    assert _snapshot() == before


def test_staff_and_clients_inactive_for_two_years_are_deactivated():
    stale_user = f.UserFactory()
    User.all_objects.filter(pk=stale_user.pk).update(last_login=OLD, created_at=OLD)
    fresh_user = f.UserFactory()
    User.all_objects.filter(pk=fresh_user.pk).update(last_login=timezone.now())
    stale, busy = f.ClientFactory(), f.ClientFactory()
    Client.all_objects.filter(pk__in=[stale.pk, busy.pk]).update(updated_at=OLD)
    f.CompletedCartFactory(client=busy)

    archive_run(dry_run=False)

    stale_user.refresh_from_db()
    assert (stale_user.status, stale_user.is_active) == ("OFF", False)
    assert User.all_objects.get(pk=fresh_user.pk).is_active
    assert Client.all_objects.get(pk=stale.pk).status == "OFF"
    assert Client.all_objects.get(pk=busy.pk).status == "ON"


def test_the_audit_trail_is_rotated_after_a_year_but_entries_about_sales_stay_seven():
    old_backup = AuditEntry.objects.create(action="maintenance.backup.created", actor_label="system")
    old_sale = AuditEntry.objects.create(action="sales.invoice.issued", actor_label="system")
    with connection.cursor() as cursor:  # entries are append-only: age them underneath
        cursor.execute("UPDATE maintenance_auditentry SET created_at = %s WHERE id IN (%s, %s)",
                       [OLD, old_backup.pk, old_sale.pk])  # fmt: skip

    archive_run(dry_run=False)

    assert not AuditEntry.objects.filter(pk=old_backup.pk).exists()
    assert AuditEntry.objects.filter(pk=old_sale.pk).exists()


def test_switching_a_policy_off_stops_it():
    _old_sale()
    RetentionPolicy.objects.filter(code="completed-sales").update(enabled=False)

    archive_run(dry_run=False)

    assert Cart.objects.count() == 1


def test_the_commands_preview_apply_and_restore(capsys):
    cart = _old_sale()

    call_command("archive", "--dry-run", "--json")
    preview = json.loads(capsys.readouterr().out)
    assert preview["dry_run"] is True
    assert preview["policies"]["completed-sales"]["sales_cart"] == {"would move": 1}
    assert Cart.objects.filter(pk=cart.pk).exists()

    call_command("archive", "--noinput")
    assert "sales_cart" in capsys.readouterr().out
    assert ArchivedCart.objects.filter(pk=cart.pk).exists()

    call_command("unarchive", "--sale", str(cart.pk), "--noinput", "--json")
    assert json.loads(capsys.readouterr().out)["counts"]["sales_cart"] == {"restored": 1}
    assert Cart.objects.filter(pk=cart.pk).exists()


def test_archived_sales_are_visible_read_only_and_exportable_in_the_admin(manager_browser):
    cart = _old_sale()
    archive_run(dry_run=False)

    page = manager_browser.get(admin_url(ArchivedCart, "change", cart.pk))
    assert page.status_code == 200
    assert b"archived" in page.content.lower()
    form = manager_browser.get(admin_url(ArchivedCart, "export")).context["form"]
    columns = {name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)}
    export = manager_browser.post(admin_url(ArchivedCart, "export"), {"format": "0", "resource": "0", **columns})
    assert export["Content-Type"].startswith("text/csv")
    body = b"".join(export.streaming_content) if export.streaming else export.content
    header, row = body.decode("utf-8-sig").splitlines()[:2]
    assert header.startswith("ID,Client email,")
    assert row.startswith(f"{cart.pk},{cart.client.email},")


def test_the_nightly_archive_is_scheduled_at_three():
    from django_celery_beat.models import PeriodicTask

    from maintenance.schedules import sync_schedules

    sync_schedules()
    task = PeriodicTask.objects.get(task="maintenance.archive")
    assert (task.crontab.hour, task.crontab.minute) == ("3", "0")


def test_invoices_and_debts_of_an_archived_sale_are_not_orphans():
    from maintenance.cleanup import orphans_find

    cart = _old_sale()
    f.InvoiceFactory(cart=cart)
    f.DebtFactory(cart=cart, client=cart.client, status=DebtStatus.PAID, remaining=0)
    archive_run(dry_run=False)

    assert ArchivedCart.objects.filter(pk=cart.pk).exists()
    assert [o.relation.label for o in orphans_find()] == []


def _database_url() -> str:
    settings_dict = connection.settings_dict
    if connection.vendor == "mysql":
        return f"mysql://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 3306}/{settings_dict['NAME']}"
    return f"sqlite:///{settings_dict['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_with_sigkill_mid_archive_loses_and_duplicates_nothing(tmp_path):
    """A real process, killed with SIGKILL while it moves batches of 3 sales; then run again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from django.conf import settings

    # Transactional tests empty every table between tests, the migration's policies too.
    RetentionPolicy.objects.get_or_create(
        code="completed-sales",
        defaults={"name": "Completed sales", "target": "sales.Cart", "action": "ARCHIVE", "after_days": 730},
    )
    client = f.ClientFactory()
    service = f.ServiceFactory()
    carts = Cart.objects.bulk_create(
        Cart(client=client, status="COMPLETED", completed_at=OLD, subtotal="12.10", net_total="10.00",
             tax_total="2.10", total="12.10")
        for _ in range(1500)
    )  # fmt: skip
    CartItem.objects.bulk_create(
        CartItem(cart=cart, service=service, name="Corte", unit_price="12.10", net="10.00", tax="2.10", gross="12.10")
        for cart in carts
    )
    before = _snapshot()
    env = {**os.environ, "DATABASE_URL": _database_url(), "ARCHIVE_BATCH_SIZE": "3",
           "DJANGO_SETTINGS_MODULE": "beils.settings", "VAR_DIR": str(settings.VAR_DIR)}  # fmt: skip
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "archive", "--noinput"], cwd=settings.BASE_DIR, env=env,
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while ArchivedCart.objects.count() < 50 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    moved = ArchivedCart.objects.count()
    assert 0 < moved < 1500, f"the kill must land mid-run; the worker said: {log.read_text()[-2000:]}"
    assert Cart.objects.count() + moved == 1500
    assert _snapshot() == before  # every row exactly once, unchanged, wherever it is

    run = subprocess.run([sys.executable, "manage.py", "archive", "--noinput"], cwd=settings.BASE_DIR, env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (Cart.objects.count(), ArchivedCart.objects.count()) == (0, 1500)
    assert _snapshot() == before
