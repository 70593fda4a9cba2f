"""Looking up the rows an import refers to, one batch at a time (:class:`BatchInstanceLoader`)."""

from django.db import models
from import_export import instance_loaders, widgets

from transfer.validation import fold


class BatchInstanceLoader(instance_loaders.ModelInstanceLoader):
    """One query (per 1 000 keys) for the instances a batch of rows refers to, when rows are
    matched on a single column (email, SKU, code, id), instead of one query per row. Composite
    keys fall back to the library's per-row look-up.

    A batched import asks for each batch as it reads it (:meth:`load`), so that memory holds
    one batch's instances, not the file's; the library's row-by-row path asks for the whole
    file at once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = self.resource.get_import_id_fields()
        self.field = self.resource.fields[names[0]] if len(names) == 1 else None
        #: ``{folded key: instance}`` of the rows that existed before the import started.
        self.cache = None
        #: The keys looked up (folded), and every row holding one, also a row this import wrote.
        self.looked_up, self.holders = frozenset(), {}
        self._before = None
        headers = self.dataset.headers or []
        if self.field is None or not len(self.dataset) or self.field.column_name not in headers:
            return
        self.cache = {}
        pk = self.resource._meta.model._meta.pk
        if isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField):
            # Rows this import writes get ids above this one: a later batch must never take a
            # row an earlier batch wrote for one that was already there, and update it. The
            # file's duplicate check (on the cells) should have named that row already; this
            # holds even where it and the look-up (on the cleaned keys) would disagree.
            self._before = self.get_queryset().aggregate(last=models.Max("pk"))["last"] or 0
        if not self.resource._meta.use_bulk:
            self.load(self._rows(headers))

    def load(self, rows) -> None:
        """Look up the instances of these rows' keys, forgetting the previous batch's."""
        if self.field is None or self.cache is None:
            return
        keys = list({key for key in map(self._key, rows) if key not in (None, "")})
        cache, holders = {}, {}
        for start in range(0, len(keys), 1000):
            lookup = {f"{self.field.attribute}__in": keys[start : start + 1000]}
            for instance in self.get_queryset().filter(**lookup):
                key = fold(self.field.get_value(instance))
                holders[key] = instance
                if self._before is None or instance.pk <= self._before:
                    cache[key] = instance
        self.cache, self.holders = cache, holders
        self.looked_up = frozenset(fold(key) for key in keys)

    def _rows(self, headers):
        # A widget that reads only its own cell (text, email, number, date…) is given only that
        # cell; any other (one that looks at other columns) gets the whole row.
        column, widget = self.field.column_name, self.field.widget
        if type(widget).__module__ != widgets.__name__ or isinstance(
            widget, widgets.ForeignKeyWidget | widgets.ManyToManyWidget
        ):
            return (dict(zip(headers, values, strict=True)) for values in self.dataset)
        return ({column: value} for value in self.dataset[column])

    def _key(self, row):
        try:
            return self.field.clean(row)
        except Exception:  # noqa: BLE001 (the row reports its own error when it is imported)
            return None

    def get_instance_by_key(self, key):
        """The cached instance for a key already read from the row (see BeilsResource.get_instance)."""
        return self.cache.get(fold(key)) if key not in (None, "") else None

    def get_instance(self, row):
        if self.cache is None:
            return super().get_instance(row)
        key = self._key(row)
        # Folded like the database's case-insensitive collation matches (MariaDB).
        return self.cache.get(fold(key)) if key not in (None, "") else super().get_instance(row)
