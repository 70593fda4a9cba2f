"""Django's ``migrate``, with a backup first whenever there is something to apply.

Migrations run under the maintenance lock, so a backup, a restore and a migration never overlap.
Set BACKUP_BEFORE_MIGRATE=false to skip the backup (the lock stays).
"""

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext as _

from backups.locks import MaintenanceBusy, maintenance_lock
from backups.models import BackupKind
from backups.services import BackupError, backup_create, catalogue_rescan, database_is_empty


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Takes a backup first when there are migrations to apply (BACKUP_BEFORE_MIGRATE)."

    def handle(self, *args, **options):
        alias = options["database"]
        try:
            with maintenance_lock(alias, wait_seconds=options.get("lock_wait", 0) or 0):
                if settings.BACKUP_BEFORE_MIGRATE and not options["plan"] and self.has_work(alias, options):
                    backup = backup_create(kind=BackupKind.PRE_MIGRATE, alias=alias)
                    if options["verbosity"]:
                        self.stdout.write(_("Backed up before migrating: %(file)s") % {"file": backup.file_name})
                result = super().handle(*args, **options)
                if "maintenance_backup" in connections[alias].introspection.table_names():
                    catalogue_rescan(alias)  # backups known only from their manifests (taken pre-migrate)
                return result
        except (MaintenanceBusy, BackupError) as exc:
            raise CommandError(_("Not migrating: %(reason)s") % {"reason": exc}) from exc

    @staticmethod
    def has_work(alias: str, options) -> bool:
        """Unapplied migrations on a database that already holds data."""
        if database_is_empty(alias):
            return False
        executor = MigrationExecutor(connections[alias])
        targets = executor.loader.graph.leaf_nodes()
        if options.get("app_label") and options.get("migration_name"):
            return True  # explicit target (possibly backwards): back up to be safe
        return bool(executor.migration_plan(targets))
