"""Give fragmented tables their free space back: MariaDB's ``OPTIMIZE TABLE`` (InnoDB rebuilds
the table and its indexes), SQLite's ``VACUUM`` (the whole file: SQLite has no per-table form).

A rebuild copies the table, so it runs under the maintenance lock: never while a backup, a
restore or a migration runs, and none of those start while it does.
"""

import time

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from audit.models import Outcome
from audit.services import audit_log
from backups.engines import engine_for
from backups.locks import MaintenanceBusy, maintenance_lock
from beils.lib.errors import DomainError
from beils.lib.progress import Progress


class OptimiseError(DomainError):
    """Optimising was refused (unknown table, a backup running…); the message says why."""


def fragmented_tables(*, min_free_bytes: int | None = None, limit: int | None = None) -> list[dict]:
    """The tables with the most free space inside them, most first: ``{table, bytes, free_bytes}``.
    On SQLite, free pages belong to the file, so the answer is one entry named ``*``."""
    min_free = settings.OPTIMISE_MIN_FREE_BYTES if min_free_bytes is None else min_free_bytes
    limit = settings.OPTIMISE_MAX_TABLES if limit is None else limit
    return engine_for().fragmented_tables(min_free_bytes=min_free, limit=limit)


def table_optimise(*, tables: list[str], actor=None, ip_address: str | None = None) -> dict[str, str]:
    """Optimise ``tables`` (SQLite: vacuum the file); return ``{table: what the server said}``.
    Refuses with :class:`OptimiseError` while another maintenance operation runs."""
    known = set(connection.introspection.table_names())
    unknown = sorted(set(tables) - known - {"*"})
    if unknown or not tables:
        raise OptimiseError(
            _("No such table(s): %(tables)s.") % {"tables": ", ".join(unknown)}
            if unknown
            else _("No table to optimise.")
        )
    started = time.monotonic()
    try:
        with maintenance_lock():
            results = engine_for().optimise(tables)
    except MaintenanceBusy as exc:
        audit_log(action="maintenance.optimise.refused", actor=actor, outcome=Outcome.FAILURE,
                  ip_address=ip_address, detail={"tables": tables, "reason": str(exc)})  # fmt: skip
        raise OptimiseError(_("Not optimised: %(reason)s") % {"reason": exc}) from exc
    failed = {table: message for table, message in results.items() if message.startswith("error")}
    audit_log(
        action="maintenance.optimise.done", actor=actor, ip_address=ip_address,
        outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
        detail={"tables": tables, "results": results, "seconds": round(time.monotonic() - started, 2)},
    )  # fmt: skip
    if failed:
        raise OptimiseError("; ".join(f"{table}: {message}" for table, message in failed.items()))
    return results


def optimise_run(
    *,
    tables: list[str] | None = None,
    actor=None,
    ip_address: str | None = None,
    progress: Progress | None = None,
) -> dict[str, str]:
    """Optimise ``tables`` or, by default, the most fragmented ones (:func:`fragmented_tables`);
    return what :func:`table_optimise` returns, or ``{}`` when no table is fragmented enough.
    The monthly job, the dashboard and ``manage.py optimise`` all run this; ``progress`` is
    called as :class:`backups.services.Progress` describes."""
    tables = tables or [t["table"] for t in fragmented_tables()]
    if not tables:
        return {}
    if progress is not None:
        progress(10, f"Optimising {', '.join(tables)}", force=True)
    return table_optimise(tables=tables, actor=actor, ip_address=ip_address)
