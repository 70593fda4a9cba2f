"""Archiving and retention: the policies in ``RetentionPolicy``, applied by ``manage.py archive``
and by Celery beat at 03:00.

Completed sales older than the policy's age move, with their lines and payments, to the archive
tables (``sales_cart_archive``…) in the same database: batches of 1 000 sales, each batch copied
and deleted in one transaction, so a run killed at any moment leaves every sale either in the
live tables or in the archive, never in both or neither, and running again continues where it
stopped. Rows keep their ids, so invoices, debts and ledgers still name their sale.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.chain import chain_rotate
from audit.models import AuditEntry
from beils.lib.progress import Progress
from maintenance.lifecycle import lifecycle_run
from maintenance.models import LifecycleKind, LifecycleRun, RetentionPolicy
from transfer.models import Job


def _batch() -> int:
    """Sales per transaction: ``ARCHIVE_BATCH_SIZE`` (1 000 by default)."""
    return settings.ARCHIVE_BATCH_SIZE


@dataclass(frozen=True)
class Family:
    """A root table and the child tables that move with it, each with its archive twin."""

    root: type[models.Model]
    archive: type[models.Model]
    children: tuple[tuple[type[models.Model], type[models.Model], str], ...]  # (model, archive, fk column)


def sales_family() -> Family:
    from sales.models import ArchivedCart, ArchivedCartItem, ArchivedPayment, Cart, CartItem, Payment

    return Family(Cart, ArchivedCart, ((CartItem, ArchivedCartItem, "cart_id"), (Payment, ArchivedPayment, "cart_id")))


def _archived_sales():
    from sales.models import ArchivedCart

    return ArchivedCart.objects.values("pk")


def _archived_sale_lines():
    from sales.models import ArchivedCartItem

    return ArchivedCartItem.objects.values("pk")


#: Relations whose parent may live in an archive table rather than the live one, each with a
#: callable returning the archived parents' ids (a ``values("pk")`` queryset): invoices, debts and
#: ledgers keep naming a sale after it moved, so cleanup does not count them as orphans.
ARCHIVED_PARENTS: dict[str, Callable[[], models.QuerySet]] = {
    "sales.Invoice.cart": _archived_sales,
    "sales.Debt.cart": _archived_sales,
    "marketing.GiftCardMovement.cart": _archived_sales,
    "marketing.BonusRedemption.cart_item": _archived_sale_lines,
}


# --- moving rows ------------------------------------------------------------------------------


def _columns(model) -> list[str]:
    return [connection.ops.quote_name(f.column) for f in model._meta.concrete_fields]


def _copy(source, target, column: str, ids: list, *, archived_at=None) -> int:
    """INSERT … SELECT of the rows of ``source`` whose ``column`` is in ``ids`` into ``target``
    (the live columns, plus ``archived_at`` when archiving)."""
    live = source if archived_at is not None else target
    columns = ", ".join(_columns(live))
    marks = ", ".join(["%s"] * len(ids))
    quote = connection.ops.quote_name
    extra_columns, extra_values, params = ("", "", [])
    if archived_at is not None:
        extra_columns, extra_values, params = (f", {quote('archived_at')}", ", %s", [archived_at])
    sql = (
        f"INSERT INTO {quote(target._meta.db_table)} ({columns}{extra_columns}) "  # noqa: S608 - quoted identifiers
        f"SELECT {columns}{extra_values} FROM {quote(source._meta.db_table)} WHERE {quote(column)} IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids])
        return cursor.rowcount


def _delete(model, column: str, ids: list) -> int:
    quote = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(column)} IN ({marks})", ids)  # noqa: S608
        return cursor.rowcount


def _move_batch(family: Family, ids: list, run: LifecycleRun, *, restore: bool) -> None:
    what = "restored" if restore else "moved"
    now = None if restore else timezone.now()
    pairs = [(family.root, family.archive, "id"), *family.children]
    for model, archive, column in pairs:
        source, target = (archive, model) if restore else (model, archive)
        run.add(model._meta.db_table, what, _copy(source, target, column, ids, archived_at=now))
    # Children first: the live tables' foreign keys would refuse the parent's delete.
    for model, archive, column in reversed(pairs):
        _delete(archive if restore else model, column, ids)


def _in_batches(select_ids, family: Family, run: LifecycleRun, *, restore: bool, batch: int) -> None:
    longest = 0.0
    while True:
        started = time.monotonic()
        with transaction.atomic():
            ids = select_ids(batch)
            if not ids:
                break
            _move_batch(family, ids, run, restore=restore)
        longest = max(longest, time.monotonic() - started)
        run.detail["longest_batch_seconds"] = round(longest, 3)
        run.save(update_fields=["counts", "detail"])  # progress, visible in the admin


def archivable_sales(*, before):
    """Completed sales older than ``before`` with no debt still open."""
    from sales.models import Cart, DebtStatus

    open_debts = Q(debts__status__in=[DebtStatus.PENDING, DebtStatus.PARTIAL])
    return Cart.objects.archivable(before=before).exclude(open_debts)


def sales_archive(*, before, run: LifecycleRun, dry_run: bool, batch: int | None = None) -> None:
    family, batch = sales_family(), batch or _batch()
    queryset = archivable_sales(before=before)
    if dry_run:
        _count_family(family, queryset, run, "would move")
        return
    # Oldest first, in the order of the (status, completed_at) index, which ends in the id: each
    # batch reads the first 1 000 entries of the index instead of sorting what is left.
    locked = queryset.order_by("completed_at", "pk").select_for_update()
    _in_batches(lambda n: list(locked.values_list("pk", flat=True)[:n]), family, run, restore=False, batch=batch)


def sales_restore(
    *, run: LifecycleRun, dry_run: bool, ids=None, before=None, after=None, batch: int | None = None
) -> None:
    """Move archived sales back to the live tables: ``ids``, or those completed between
    ``after`` and ``before`` (either may be open)."""
    family, batch = sales_family(), batch or _batch()
    queryset = family.archive.objects.all()
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    if before is not None:
        queryset = queryset.filter(completed_at__lt=before)
    if after is not None:
        queryset = queryset.filter(completed_at__gte=after)
    if dry_run:
        _count_family(family, queryset, run, "would restore", archived=True)
        return
    # Archived rows change only here: their ids are read once, then moved back slice by slice.
    pending = list(queryset.order_by("pk").values_list("pk", flat=True))

    def next_ids(n):
        taken = pending[:n]
        del pending[:n]
        return taken

    _in_batches(next_ids, family, run, restore=True, batch=batch)


def _count_family(family: Family, queryset, run: LifecycleRun, what: str, *, archived: bool = False) -> None:
    run.add(family.root._meta.db_table, what, queryset.count())
    for model, archive, column in family.children:
        child = archive if archived else model
        run.add(model._meta.db_table, what, child.objects.filter(**{f"{column}__in": queryset.values("pk")}).count())


# --- the policies -----------------------------------------------------------------------------


def _completed_sales(policy, run, *, dry_run, now):
    sales_archive(before=now - timedelta(days=policy.after_days), run=run, dry_run=dry_run, batch=_batch())
    if policy.purge_after_days:
        archive = sales_family().archive
        expired = archive.objects.filter(completed_at__lt=now - timedelta(days=policy.purge_after_days))
        _purge(sales_family(), expired, run, dry_run=dry_run)


def _purge(family: Family, queryset, run: LifecycleRun, *, dry_run: bool) -> None:
    """Delete archived rows for good (after the legal retention), in batches."""
    if dry_run:
        _count_family(family, queryset, run, "would purge", archived=True)
        return
    ordered = queryset.order_by("pk")
    while ids := list(ordered.values_list("pk", flat=True)[: _batch()]):
        with transaction.atomic():
            for _model, archive, column in reversed([(family.root, family.archive, "id"), *family.children]):
                run.add(archive._meta.db_table, "purged", _delete(archive, column, ids))


def _inactive_users(policy, run, *, dry_run, now):
    from beils.lib.models import Status
    from crm.models import User

    before = now - timedelta(days=policy.after_days)
    stale = User.objects.filter(is_superuser=False).filter(
        Q(last_login__lt=before) | Q(last_login__isnull=True, created_at__lt=before)
    )
    # An idle owner is still the only one who can manage accounts: never switch off the last ADMIN.
    stale = stale.exclude(pk__in=stale.indispensable_admins())
    if dry_run:
        run.add("crm_user", "would deactivate", stale.count())
        return
    count = stale.update(status=Status.OFF, is_active=False, is_staff=False, deactivated_at=now, updated_at=now)
    run.add("crm_user", "deactivated", count)


def _inactive_clients(policy, run, *, dry_run, now):
    from crm.models import Client

    before = now - timedelta(days=policy.after_days)
    recent = Q(carts__created_at__gte=before) | Q(bookings__start__gte=before) | Q(debts__created_at__gte=before)
    stale = Client.objects.filter(updated_at__lt=before).exclude(pk__in=Client.all_objects.filter(recent).values("pk"))
    if dry_run:
        run.add("crm_client", "would deactivate", stale.count())
        return
    run.add(
        "crm_client", "deactivated", Client.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).deactivate()
    )


def _marketing_review(policy, run, *, dry_run, now):
    from marketing.models import ClientBonus, Coupon, GiftCard

    today = timezone.localdate(now)
    review = {
        "expired coupons": Coupon.objects.filter(valid_until__lt=now).count(),
        "used-up or expired bonos": ClientBonus.objects.filter(
            Q(sessions_remaining=0) | Q(expires_on__lt=today)
        ).count(),
        "spent or expired gift cards": GiftCard.objects.filter(Q(current_balance=0) | Q(expires_on__lt=today)).count(),
    }
    run.detail.setdefault("review", {}).update(review)


def _audit_trail(policy, run, *, dry_run, now):
    from transfer.jobs import job_files_delete

    before = now - timedelta(days=policy.after_days)
    fiscal_before = now - timedelta(days=settings_fiscal_days())
    # Entries about sales and invoices are kept as long as the invoices are.
    fiscal = Q(action__startswith="sales.") | Q(target_type__startswith="sales.")
    old = AuditEntry.objects.filter(created_at__lt=before).filter(~fiscal | Q(created_at__lt=fiscal_before))
    jobs = Job.objects.filter(created_at__lt=before)
    runs = LifecycleRun.objects.filter(started_at__lt=before)
    if dry_run:
        for name, queryset in (
            ("maintenance_auditentry", old),
            ("maintenance_job", jobs),
            ("maintenance_lifecyclerun", runs),
        ):
            run.add(name, "would delete", queryset.count())
        return
    run.add("maintenance_auditentry", "deleted", chain_rotate(old))
    for job in jobs:
        job_files_delete(job)
    run.add("maintenance_job", "deleted", jobs._raw_delete(jobs.db))
    run.add("maintenance_lifecyclerun", "deleted", runs._raw_delete(runs.db))


def settings_fiscal_days() -> int:
    policy = RetentionPolicy.objects.filter(code="completed-sales").first()
    return policy.purge_after_days if policy and policy.purge_after_days else 7 * 365


#: What each policy does, by its code. A policy whose action is KEEP needs no entry.
APPLY = {
    "completed-sales": _completed_sales,
    "inactive-users": _inactive_users,
    "inactive-clients": _inactive_clients,
    "marketing-review": _marketing_review,
    "audit-trail": _audit_trail,
}


def archive_run(*, dry_run: bool, actor=None, now=None, progress: Progress | None = None) -> LifecycleRun:
    """Apply every enabled retention policy, in one recorded run (``LifecycleKind.ARCHIVE``);
    ``dry_run`` reports per policy what would change. ``progress(percent, message)`` is told
    before each policy. Raises ``MaintenanceBusy`` when another archive run holds the lock.

    The one archive operation: the nightly task, the dashboard and ``manage.py archive`` call it."""
    now = now or timezone.now()
    with lifecycle_run(LifecycleKind.ARCHIVE, dry_run=dry_run, actor=actor) as run:
        policies = list(RetentionPolicy.objects.filter(enabled=True))
        for done, policy in enumerate(policies):
            if progress:
                progress(100 * done // len(policies), _("Applying %(policy)s") % {"policy": policy.name})
            apply = APPLY.get(policy.code)
            before = {table: dict(figures) for table, figures in run.counts.items()}
            if apply is not None and policy.after_days is not None:
                apply(policy, run, dry_run=dry_run, now=now)
            run.detail.setdefault("policies", {})[policy.code] = _difference(before, run.counts)
    return run


def _difference(before: dict, after: dict) -> dict:
    changed = {}
    for table, figures in after.items():
        for what, rows in figures.items():
            delta = rows - before.get(table, {}).get(what, 0)
            if delta:
                changed.setdefault(table, {})[what] = delta
    return changed


def archive_restore(*, dry_run: bool, actor=None, ids=None, before=None, after=None) -> LifecycleRun:
    """Move archived sales back to the live tables (``manage.py unarchive``)."""
    detail = {
        "ids": list(ids) if ids else None,
        "before": str(before) if before else None,
        "after": str(after) if after else None,
    }
    with lifecycle_run(LifecycleKind.RESTORE, dry_run=dry_run, actor=actor, detail=detail) as run:
        sales_restore(run=run, dry_run=dry_run, ids=ids, before=before, after=after)
    return run
