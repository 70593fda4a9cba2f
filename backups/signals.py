"""The backups' signals, in a module of their own so that connecting to them (from another app's
``AppConfig.ready()``) does not import the backup machinery at every start-up."""

from django.dispatch import Signal

#: Sent after any restore, before the application serves again (e.g. to re-apply GDPR erasures),
#: with ``backup``, ``tables``, ``alias`` and ``ledger``.
backup_restored = Signal()
