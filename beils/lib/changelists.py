"""Admin lists that stay fast at a salon group's size (100 000 clients, a quarter of a million
sales): no figure on the page may cost a pass over the whole table.

* :class:`BoundedCountPaginator` counts exactly up to 10 000 rows. Beyond that an unfiltered list
  shows the database's estimate of the table's size ("about 246 000 sales"), and a filtered one
  says "more than 10 000" and offers the first 10 000; the page says which
  (``templates/admin/pagination.html``).
* :class:`BigListMixin` computes costly columns (sums, "missing a consent") for the 50 rows
  shown, in one query, instead of annotating every row of the table before paginating.
* :class:`PageChangeList` fetches the rows of ``list_select_related`` for the page's rows after
  the page query instead of joining them into it: with the join, MariaDB may drive it from the
  related table and sort the whole result (6 s for the bookings list at 180 000 bookings); alone,
  the page query reads the 50 rows off the ordering's index.
* :func:`date_hierarchy_choices` lists a big list's years and months from its first and last
  dates (two index lookups) instead of a DISTINCT over every row.
"""

import datetime

from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import ForeignKey, Max, Min, QuerySet
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

#: Lists with more rows than this are counted by estimate (unfiltered) or as "more than".
EXACT_COUNT_UP_TO = 10_000


def table_rows_estimate(model, using: str) -> int | None:
    """The database's own estimate of a table's row count, read from its statistics without
    scanning; ``None`` where the engine keeps none worth showing (SQLite)."""
    connection = connections[using]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(
                "SELECT table_rows FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
                [table],
            )
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        else:
            return None
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


class BoundedCountPaginator(Paginator):
    """A paginator whose count never scans more than ``EXACT_COUNT_UP_TO + 1`` rows."""

    exact_up_to = EXACT_COUNT_UP_TO
    #: The count is the database's estimate of the whole table.
    estimated = False
    #: The list has more rows than ``exact_up_to``; only that many can be paged through.
    bounded = False

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return super().count
        # Unordered: sorting before the LIMIT may mean sorting the whole table.
        counted = rows.order_by()[: self.exact_up_to + 1].count()
        if counted <= self.exact_up_to:
            return counted
        if not rows.query.where:
            estimate = table_rows_estimate(rows.model, rows.db)
            if estimate is None:  # an engine with no statistics is small enough to count
                return rows.count()
            self.estimated = True
            return max(estimate, counted)
        self.bounded = True
        return self.exact_up_to

    def page(self, number):
        """The page asked for; past the real end of an estimated list (the estimate was above the
        real count), the real last page, after counting exactly once."""
        page = super().page(number)
        if self.estimated and not page.object_list:
            self.__dict__.update(count=self.object_list.count())
            self.__dict__.pop("num_pages", None)
            self.estimated = False
            page = super().page(self.num_pages)
        return page


class PageChangeList(ChangeList):
    """Django's changelist with the related rows fetched per page, then
    :meth:`BigListMixin.annotate_page` on the page's rows."""

    def apply_select_related(self, queryset):
        related = self.list_select_related
        if related is True:
            return super().apply_select_related(queryset)
        if related is False:
            related = [name for name in self.list_display if _is_foreign_key(self.model, name)]
        return queryset.prefetch_related(*related)

    def get_results(self, request):
        super().get_results(request)
        # The paginator may have settled an estimate that was above the real count.
        self.result_count = self.paginator.count
        self.page_num = min(self.page_num, self.paginator.num_pages)
        # Evaluates the page's queryset once; the template then iterates its cached rows, and a
        # list_editable formset still gets a queryset.
        self.model_admin.annotate_page(request, list(self.result_list))


class BigListMixin:
    """For a ModelAdmin with big tables: bounded counts, and costly columns per page."""

    paginator = BoundedCountPaginator
    list_per_page = 50
    #: Django's "(N total)" beside a filtered count is a full COUNT(*) of the table.
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return PageChangeList

    def annotate_page(self, request, objects: list) -> None:
        """Set the costly columns' values on the shown rows (one query for all of them)."""


def _is_foreign_key(model, name) -> bool:
    try:
        return isinstance(model._meta.get_field(name), ForeignKey)
    except FieldDoesNotExist:  # a method or a callable column, not a field
        return False


def date_hierarchy_choices(cl) -> dict | None:
    """The years (or one year's months) of a big list's date drill-down, as Django's
    ``date_hierarchy`` tag shows them, from the first and last dates alone: a salon has records
    in every month between. ``None`` where Django's own is cheap (one month's days, a small list)."""
    if not isinstance(cl, PageChangeList) or not cl.date_hierarchy:
        return None
    name = cl.date_hierarchy
    year = cl.params.get(f"{name}__year")
    if cl.params.get(f"{name}__month") or cl.params.get(f"{name}__day"):
        return None
    span = cl.queryset.aggregate(first=Min(name), last=Max(name))
    first, last = span["first"], span["last"]
    if first is None or last is None:
        return {"show": True, "back": None, "choices": []}
    if isinstance(first, datetime.datetime):
        first, last = (timezone.localtime(v) if timezone.is_aware(v) else v for v in (first, last))
    if year is None and first.year == last.year:
        year = first.year

    def link(filters):
        return cl.get_query_string(filters, [f"{name}__"])

    if year is not None and (first.year, first.month) == (last.year, last.month):
        # One month: its days with rows, as Django lists them (a DISTINCT over one month's rows).
        kind = "datetimes" if isinstance(first, datetime.datetime) else "dates"
        days = getattr(cl.queryset, kind)(name, "day")
        filters = {f"{name}__year": first.year, f"{name}__month": first.month}
        choices = [
            {"link": link({**filters, f"{name}__day": day.day}),
             "title": capfirst(formats.date_format(day, "MONTH_DAY_FORMAT"))}
            for day in days
        ]  # fmt: skip
        return {"show": True, "back": {"link": link({f"{name}__year": first.year}), "title": str(first.year)},
                "choices": choices}  # fmt: skip

    if year is None:
        choices = [{"link": link({f"{name}__year": str(y)}), "title": str(y)} for y in range(first.year, last.year + 1)]
        return {"show": True, "back": None, "choices": choices}
    months = [datetime.date(int(year), m, 1) for m in range(first.month, last.month + 1)]
    choices = [
        {"link": link({f"{name}__year": year, f"{name}__month": m.month}),
         "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT"))}
        for m in months
    ]  # fmt: skip
    return {"show": True, "back": {"link": link({}), "title": _("All dates")}, "choices": choices}
