"""The import itself: one method per old table, in dependency order, each reading the old table in
batches and writing each batch in a transaction of its own.

Every old id is kept in :class:`~legacy.models.LegacyKey`, so a second run finds the row it
created and updates it (or leaves it alone when nothing changed) instead of adding another. A
doubtful row is never dropped silently: :meth:`Importer.problem` records the reason and what was
done with it, and the report lists them.
"""

from legacy.importer.base import CHILDREN, ENTITIES, PROGRESS_TABLES, Counts, ImporterBase
from legacy.importer.bookings import BookingImport
from legacy.importer.catalogue import CatalogueImport
from legacy.importer.marketing import MarketingImport
from legacy.importer.people import PeopleImport
from legacy.importer.sales import SalesImport

__all__ = ["CHILDREN", "ENTITIES", "PROGRESS_TABLES", "Counts", "Importer"]


class Importer(PeopleImport, CatalogueImport, BookingImport, SalesImport, MarketingImport, ImporterBase):
    """Reads a legacy source and writes Beils' models, one ``import_<table>`` per old table."""
