from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self):
        post_migrate.connect(_audit_chain_head, sender=self, dispatch_uid="audit.chain_head")


def _audit_chain_head(using, **kwargs):
    """The audit chain's head row exists whenever the schema does, also after ``flush``: created on
    first use instead, by two appends at once, their locks could deadlock (one append lost)."""
    from django.db import connections

    from audit.models import AuditChainHead

    if AuditChainHead._meta.db_table in connections[using].introspection.table_names():
        AuditChainHead.ensure(using)
