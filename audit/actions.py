"""What each audit action code means, in words a salon reads.

Entries store a code (``maintenance.backup.created``, ``crm.client.erased``): it is what scripts,
exports and the hash chain rely on, and it never changes. The admin shows the words instead,
with the code beside them. The table is plain data on purpose: audit is the ground floor and
imports none of the apps that record entries, so their codes are listed here, not looked up.
``tests/audit/test_actions.py`` fails when a code recorded anywhere in Beils has no words here.

A code this table does not know (an entry from an older version of Beils) is shown as it is.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

#: The words for every action code Beils records, by the app that records it.
ACTIONS: dict[str, Promise] = {
    # crm: clients, consents, staff accounts and API tokens
    "crm.client.merged": _("Clients merged"),
    "crm.client.merge_undone": _("Merge of clients undone"),
    "crm.client.data_exported": _("Client's personal data exported (GDPR)"),
    "crm.client.erased": _("Client's personal data erased (GDPR)"),
    "crm.client.erasure_replayed": _("GDPR erasures applied again after a restore"),
    "crm.consent.signed": _("Consent signed"),
    "crm.consent.revoked": _("Consent revoked"),
    "crm.user.role_changed": _("Staff member's role changed"),
    "crm.login.locked_out": _("Sign-in locked after repeated failed attempts"),
    "crm.token.issued": _("API token issued"),
    "crm.token.refused": _("API token refused: wrong e-mail or password"),
    "crm.token.revoked": _("API token revoked"),
    # marketing
    "marketing.clientbonus.granted": _("Bono given to a client"),
    "marketing.giftcard.issued": _("Gift card issued"),
    "marketing.giftcard.comped": _("Gift card given as a courtesy"),
    # sales
    "sales.cart.completed": _("Sale completed"),
    "sales.cart.cancelled": _("Sale cancelled"),
    "sales.debt.paid": _("Debt payment recorded"),
    "sales.invoice.issued": _("Invoice issued"),
    "sales.invoice.rectified": _("Rectifying invoice issued"),
    "sales.invoice.emailed": _("Invoice sent by e-mail"),
    "sales.report.exported": _("Sales report exported"),
    "sales.register.exported": _("Register of issued invoices exported"),
    "sales.register.emailed": _("Register of issued invoices e-mailed to the admins"),
    "sales.cartitem.added_by_hand": _("Sale line added by hand"),
    "sales.cartitem.changed_by_hand": _("Sale line changed by hand"),
    "sales.cartitem.deleted_by_hand": _("Sale line deleted by hand"),
    "sales.payment.added_by_hand": _("Payment added by hand"),
    "sales.payment.changed_by_hand": _("Payment changed by hand"),
    "sales.payment.deleted_by_hand": _("Payment deleted by hand"),
    "sales.debtpayment.added_by_hand": _("Debt payment added by hand"),
    "sales.debtpayment.changed_by_hand": _("Debt payment changed by hand"),
    "sales.debtpayment.deleted_by_hand": _("Debt payment deleted by hand"),
    # bookings: one code per status a booking moves to
    "bookings.booking.pending": _("Booking set back to pending"),
    "bookings.booking.confirmed": _("Booking confirmed"),
    "bookings.booking.completed": _("Booking completed"),
    "bookings.booking.cancelled": _("Booking cancelled"),
    "bookings.booking.no_show": _("Booking marked as a no-show"),
    "bookings.booking.charged": _("Booking charged"),
    "bookings.booking.rescheduled": _("Booking moved to another time"),
    # backups (recorded under "maintenance", where they began)
    "maintenance.backup.requested": _("Backup requested"),
    "maintenance.backup.created": _("Backup created"),
    "maintenance.backup.backup_failed": _("Backup failed"),
    "maintenance.backup.reaped": _("Backup stopped without finishing"),
    "maintenance.backup.verified": _("Backup verified"),
    "maintenance.backup.verification_failed": _("Backup verification failed"),
    "maintenance.backup.restore_tested": _("Backup test-restored"),
    "maintenance.backup.scratch_dropped": _("Scratch database of a restore test removed"),
    "maintenance.backup.restored": _("Backup restored"),
    "maintenance.backup.restore_failed": _("Restore failed"),
    "maintenance.backup.ledger_refused": _("Restore refused: the erasure ledger is incomplete"),
    "maintenance.backup.ledger_overridden": _("Restore without a complete erasure ledger (forced)"),
    "maintenance.backup.restore_drill": _("Restore drill"),
    "maintenance.backup.restore_drill_failed": _("Restore drill failed"),
    "maintenance.backup.restore_drill_reaped": _("Restore drill stopped without finishing"),
    "maintenance.backup.copied": _("Backup copied off-site"),
    "maintenance.backup.copy_failed": _("Off-site copy failed"),
    "maintenance.backup.fetched": _("Backup fetched from an off-site copy"),
    "maintenance.backup.fetch_failed": _("Backup could not be fetched from its copies"),
    "maintenance.backup.downloaded": _("Backup downloaded"),
    "maintenance.backup.pruned": _("Old backups removed (retention policy)"),
    "maintenance.backup.manifest_refused": _("Backup manifest refused"),
    # import and export (transfer and legacy)
    "maintenance.export.done": _("Data exported"),
    "maintenance.export.aborted": _("Export interrupted"),
    "maintenance.export.failed": _("Export failed"),
    "maintenance.export.reaped": _("Export stopped without finishing"),
    "maintenance.import.queued": _("Import queued"),
    "maintenance.import.confirmed": _("Import confirmed"),
    "maintenance.import.done": _("Data imported"),
    "maintenance.import.failed": _("Import failed"),
    "maintenance.import.refused": _("Import refused"),
    "maintenance.import.reaped": _("Import stopped without finishing"),
    "transfer.mapping.saved": _("Column mapping of an import source saved"),
    "maintenance.job.downloaded": _("Import or export file downloaded"),
    "legacy.import.queued": _("Import from the old system queued"),
    "legacy.import.completed": _("Import from the old system completed"),
    "legacy.import.failed": _("Import from the old system failed"),
    "legacy.import.reaped": _("Import from the old system stopped without finishing"),
    "legacy.peers.imported": _("Import from another salon system completed"),
    "legacy.peers.failed": _("Import from another salon system refused or stopped"),
    "legacy.peers.dry_run": _("Import from another salon system tried (dry run)"),
    # archiving, cleanup and the rest of the salon's upkeep
    "maintenance.archive.done": _("Archiving done"),
    "maintenance.archive.failed": _("Archiving failed"),
    "maintenance.restore.done": _("Records brought back from the archive"),
    "maintenance.restore.failed": _("Bringing records back from the archive failed"),
    "maintenance.cleanup.done": _("Cleanup done"),
    "maintenance.cleanup.failed": _("Cleanup failed"),
    "maintenance.retention_policy.changed": _("Retention policy changed"),
    "maintenance.forget.done": _("Inactive clients forgotten (erased)"),
    "maintenance.forget.failed": _("Forgetting inactive clients failed"),
    "maintenance.forget.reviewed": _("Clients due to be forgotten listed for review"),
    "maintenance.lifecycle.reaped": _("Archiving or cleanup stopped without finishing"),
    "maintenance.operation.requested": _("Maintenance task requested"),
    "maintenance.operation.failed": _("Maintenance task failed"),
    "maintenance.operation.reaped": _("Maintenance task stopped without finishing"),
    "maintenance.optimise.done": _("Tables optimised"),
    "maintenance.optimise.refused": _("Table optimisation refused"),
    "maintenance.periodic_task.changed": _("Scheduled task switched on or off"),
    "maintenance.periodic_task.run": _("Scheduled task run by hand"),
    "maintenance.alert.opened": _("Alert raised"),
    "maintenance.alert.resolved": _("Alert resolved"),
    "maintenance.credentials.removed": _("Leftover database credential files removed"),
    "maintenance.seed.created": _("Demo data created"),
    "maintenance.seed.failed": _("Creating demo data failed"),
}


def action_label(code: str) -> str:
    """The words for ``code`` in the active language; the code itself when it has none."""
    label = ACTIONS.get(code)
    return str(label) if label is not None else code
