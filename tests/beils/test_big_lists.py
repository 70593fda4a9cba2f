"""What keeps the admin's big lists fast at a salon group's size (issue 17), pinned without
timing: every list is read along an index, its query count does not grow with the rows, no
figure on it counts or scans the whole table, and related rows are chosen by search.

The timings themselves are in ``bench/scale.py`` (``make bench-scale``) and docs/benchmarks.md.
"""

import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection, models
from django.db.models import Sum
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from beils.lib.changelists import BigListMixin, BoundedCountPaginator
from crm.models import Consent, Revoke
from demo.services import demo_data_seed
from sales.models import Cart, CartStatus
from tests.factories import ConsentFactory, RevokeFactory
from tests.helpers import changelist_rows

pytestmark = pytest.mark.django_db

BIG_LISTS = sorted(
    (model for model, model_admin in admin.site._registry.items() if isinstance(model_admin, BigListMixin)),
    key=lambda model: model._meta.label,
)


def _changelist_url(model, **params):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def _ordering_columns(model, ordering) -> list[tuple[str, bool]]:
    """(column, descending) for each term of a changelist's ordering; a term that orders by a
    related model's ordering or an expression cannot be read off an index and fails here."""
    columns, seen = [], set()
    for term in ordering:
        assert isinstance(term, str), f"{model._meta.label}: orders by an expression, {term!r}"
        name = term.lstrip("-")
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        assert not (field.is_relation and name == field.name), (
            f"{model._meta.label}: ordering by {name!r} sorts by {field.related_model._meta.label}'s own ordering"
        )
        if field.column not in seen:
            seen.add(field.column)
            columns.append((field.column, term.startswith("-")))
    return columns


def _indexes(model) -> list[list[str]]:
    """Each index's columns; InnoDB ends every secondary index with the primary key."""
    pk = model._meta.pk.column
    found = [[pk]]
    for field in model._meta.concrete_fields:
        if field.db_index or field.unique:
            found.append([field.column, pk])
    for index in [*model._meta.indexes, *model._meta.constraints]:
        if getattr(index, "fields", None):
            found.append([model._meta.get_field(name.lstrip("-")).column for name in index.fields] + [pk])
    return found


@pytest.mark.parametrize("model", BIG_LISTS, ids=lambda model: model._meta.label)
def test_every_big_list_is_read_along_an_index(model, admin_user):
    request = RequestFactory().get("/")
    request.user = admin_user
    changelist = admin.site._registry[model].get_changelist_instance(request)
    columns = _ordering_columns(model, changelist.queryset.query.order_by)
    assert columns[-1][0] == model._meta.pk.column, "the order ends in the primary key: pages are stable"
    assert len({descending for _column, descending in columns}) == 1, f"mixed directions {columns}: a sort"
    wanted = [column for column, _descending in columns]
    assert any(index[: len(wanted)] == wanted for index in _indexes(model)), (
        f"{model._meta.label}: no index gives the order {wanted}"
    )


@pytest.fixture
def salon(db):
    demo_data_seed(clients=12, random_seed=5)


def _queries(browser, url) -> tuple[int, list[str]]:
    """How many queries a page costs, leaving out the date drill-down's; and all of them."""
    with CaptureQueriesContext(connection) as captured:
        response = browser.get(url)
    assert response.status_code == 200, url
    sql = [query["sql"] for query in captured]
    return len([q for q in sql if not re.search(r'SELECT (MIN\(|DISTINCT .*"?datetimefield"?)', q)]), sql


def test_query_counts_do_not_grow_with_the_rows(admin_user, admin_browser):
    """No N+1 anywhere: each big list costs as many queries for a salon of 20 clients as for one
    of 60. Left out: lists empty in the small salon (an empty page fetches nothing related) and
    the date drill-down's queries, whose number depends on how the dates spread (one month's
    rows list their days), not on how many rows there are."""
    demo_data_seed(clients=20, random_seed=5)
    if not Revoke.objects.exists():  # whether the small demo salon revoked a consent depends on the day
        RevokeFactory(consent=Consent.objects.filter(signed_at__isnull=False).first() or ConsentFactory(), is_demo=True)
    shown = [model for model in BIG_LISTS if model._default_manager.exists()]
    assert {m._meta.label for m in BIG_LISTS} - {m._meta.label for m in shown} <= {
        "audit.AuditEntry", "sales.ArchivedCart", "legacy.LegacyInvoice"
    }  # fmt: skip
    small = {model._meta.label: _queries(admin_browser, _changelist_url(model))[0] for model in shown}
    demo_data_seed(clients=60, random_seed=5, flush=True)
    large = {model._meta.label: _queries(admin_browser, _changelist_url(model))[0] for model in shown}
    assert large == small


def test_no_big_list_counts_or_scans_the_whole_table(salon, admin_browser):
    for model in BIG_LISTS:
        _count, sql = _queries(admin_browser, _changelist_url(model))
        table = connection.ops.quote_name(model._meta.db_table)
        whole_counts = [q for q in sql if "COUNT(" in q and "LIMIT" not in q and f"FROM {table}" in q]
        # Years or months listed by a DISTINCT over the rows (one month's days may be: that
        # reads one month, through the index).
        by_year_or_month = r"%Y-01-01|%Y-%m-01|trunc\('(year|month)'"
        distinct_dates = [q for q in sql if "DISTINCT" in q and re.search(by_year_or_month, q)]
        assert not whole_counts, f"{model._meta.label} counts every row: {whole_counts}"
        assert not distinct_dates, f"{model._meta.label} lists its dates with a pass over every row"


def test_a_long_filtered_list_says_more_than_and_pages_through_the_first_rows(salon, admin_browser, monkeypatch):
    monkeypatch.setattr(BoundedCountPaginator, "exact_up_to", 5)
    completed = Cart.objects.filter(status=CartStatus.COMPLETED).count()
    assert completed > 5
    page = admin_browser.get(_changelist_url(Cart, status__exact="COMPLETED")).content.decode()
    assert "More than 5 sales" in page
    assert f"{completed} sales" not in page


def test_a_long_unfiltered_list_shows_the_database_estimate(salon, admin_browser, monkeypatch, on_mariadb):
    monkeypatch.setattr(BoundedCountPaginator, "exact_up_to", 5)
    page = admin_browser.get(_changelist_url(Cart)).content.decode()
    if on_mariadb:  # (no ANALYZE TABLE here: it commits, and the test's rows would stay)
        assert re.search(r"About [\d.,\s]+ sales", page)
    else:  # SQLite keeps no row estimate; a salon on SQLite is small enough to count
        assert f"{Cart.objects.count()} sales" in page


def test_a_page_past_an_estimate_above_the_real_count_shows_the_real_last_page(salon, admin_browser, monkeypatch):
    """Statistics can be stale: following "last page" of an over-estimate counts exactly once and
    shows the last real rows, not an empty page."""
    import beils.lib.changelists

    monkeypatch.setattr(BoundedCountPaginator, "exact_up_to", 5)
    monkeypatch.setattr(beils.lib.changelists, "table_rows_estimate", lambda model, using: 10_000)
    assert "About 10" in admin_browser.get(_changelist_url(Cart)).content.decode()
    response = admin_browser.get(_changelist_url(Cart, p=200))  # the estimate's last page
    assert response.status_code == 200
    real = Cart.objects.count()
    shown = changelist_rows(response)
    assert len(shown) == (real % 50 or 50)
    assert shown[-1] == Cart.objects.order_by("created_at", "pk").first()  # the oldest sale ends the list
    assert f"{real} sales" in response.content.decode()


def test_a_short_list_is_counted_exactly(salon, admin_browser):
    page = admin_browser.get(_changelist_url(Cart, status__exact="COMPLETED")).content.decode()
    assert f"{Cart.objects.filter(status=CartStatus.COMPLETED).count()} sales" in page


def test_the_date_drill_down_lists_years_then_months_from_the_first_and_last_dates(salon, admin_browser):
    first, last = (Cart.objects.exclude(completed_at=None).order_by(order)[0].completed_at for order in ("completed_at", "-completed_at"))  # fmt: skip
    page = admin_browser.get(_changelist_url(Cart)).content.decode()
    nav = re.search(r'<nav class="toplinks">(.*?)</nav>', page, re.S).group(1)
    assert re.findall(r"completed_at__year=(\d+)", nav) == [str(y) for y in range(first.year, last.year + 1)]
    year = last.year
    page = admin_browser.get(_changelist_url(Cart, completed_at__year=year)).content.decode()
    nav = re.search(r'<nav class="toplinks">(.*?)</nav>', page, re.S).group(1)
    months = [int(m) for m in re.findall(r"completed_at__month=(\d+)", nav)]
    in_year = Cart.objects.filter(completed_at__year=year).order_by("completed_at")
    assert months == list(range(in_year.first().completed_at.month, in_year.last().completed_at.month + 1))


def test_the_sales_list_shows_what_each_shown_sale_was_paid(salon, admin_browser):
    page = admin_browser.get(_changelist_url(Cart, status__exact="COMPLETED")).content.decode()
    newest = Cart.objects.filter(status=CartStatus.COMPLETED).order_by("-created_at", "-pk").first()
    paid = newest.payments.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    row = re.search(rf"<tr>.*?/sales/cart/{newest.pk}/change/.*?</tr>", page, re.S).group(0)
    assert f"{paid:.2f}" in row


def _related_fields_to_big_tables(model_admin, request):
    fields = set(model_admin.get_fields(request))
    readonly = set(model_admin.get_readonly_fields(request))
    for field in model_admin.model._meta.get_fields():
        if not (field.concrete and field.is_relation) or not field.editable or field.name not in fields:
            continue
        if field.related_model in BIG_LISTS and field.name not in readonly:
            yield field


@pytest.mark.parametrize("model", sorted(admin.site._registry, key=lambda m: m._meta.label), ids=str)
def test_a_related_row_from_a_big_table_is_chosen_by_search(model, admin_user):
    """A plain <select> would list every client, sale or consent in the page (the revocation
    form rendered 126 000 consents and never finished)."""
    request = RequestFactory().get("/")
    request.user = admin_user
    model_admin = admin.site._registry[model]
    if not model_admin.has_change_permission(request) and not model_admin.has_add_permission(request):
        return
    for field in _related_fields_to_big_tables(model_admin, request):
        chosen_by_search = field.name in (*model_admin.autocomplete_fields, *model_admin.raw_id_fields)
        assert chosen_by_search or isinstance(field, models.OneToOneField), f"{model._meta.label}.{field.name}"


def test_every_big_api_list_reads_its_page_without_a_join(salon, admin_user):
    """Serializers show related rows as ids or fetch them per page: a join in the page query let
    MariaDB read the page through the related table and sort it (the API's bonos and sales).
    The catalogue's lists (tens of rows) may join."""
    from beils.urls import router
    from tests.helpers import api_as

    client, joined, read = api_as(admin_user), {}, 0
    for prefix, viewset, _basename in router.registry:
        if viewset.queryset.model not in BIG_LISTS:
            continue
        table = connection.ops.quote_name(viewset.queryset.model._meta.db_table)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/{prefix}/").status_code == 200, prefix
        page = [q["sql"] for q in queries.captured_queries if f"FROM {table}" in q["sql"] and " LIMIT " in q["sql"]]
        read += bool(page)
        if joins := [sql for sql in page if " JOIN " in sql]:
            joined[prefix] = joins
    assert not joined, sorted(joined)
    assert read >= 9  # the demo salon has rows in most lists: the check looked at real pages
