"""Database engines behind one small interface (``base.Engine``): dump to a byte stream, read a
dump back, restore it, lock, measure and optimise. ``engine_for(alias)`` gives the live
database's engine; ``engine_class(vendor)`` the one a backup file was written by."""

from django.db import connections
from django.utils.translation import gettext as _

from backups.engines.base import CheckFailed, Engine, LockBusy, scratch_alias, tables_compare
from backups.engines.mariadb import (
    SCRATCH_PURPOSES,
    ConnectionLost,
    MariaDBEngine,
    Sentinel,
    option_value,
    quote,
)
from backups.engines.sqlite import SQLiteEngine, snapshot, sqlite_table_stats
from backups.pipeline import PipelineError

__all__ = [
    "SCRATCH_PURPOSES", "CheckFailed", "ConnectionLost", "Engine", "LockBusy", "MariaDBEngine",
    "SQLiteEngine", "Sentinel", "engine_class", "engine_for", "option_value", "quote", "scratch_alias", "snapshot",
    "sqlite_table_stats", "tables_compare",
]  # fmt: skip

#: Django's vendor name → the engine class.
_BY_DJANGO_VENDOR = {"mysql": MariaDBEngine, "sqlite": SQLiteEngine}


def engine_for(alias: str = "default") -> Engine:
    """The engine of the database ``alias``."""
    vendor = connections[alias].vendor
    if vendor not in _BY_DJANGO_VENDOR:
        raise PipelineError(_("No backup engine for %(vendor)s yet.") % {"vendor": vendor})
    return _BY_DJANGO_VENDOR[vendor](alias)


def engine_class(vendor: str) -> type[Engine]:
    """The engine that wrote a backup whose manifest says ``engine: vendor``."""
    for engine in _BY_DJANGO_VENDOR.values():
        if engine.vendor == vendor:
            return engine
    raise PipelineError(_("No backup engine for %(vendor)s yet.") % {"vendor": vendor})
