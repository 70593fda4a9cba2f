"""Sales in the admin: ``carts`` (sales, the till, reports, debts) and ``invoices`` (invoices,
numbering, the archive). Importing the package registers both."""

from sales.admin import carts, invoices  # noqa: F401
from sales.admin.carts import AdminRoleOnlyWrites, is_admin_role

__all__ = ["AdminRoleOnlyWrites", "is_admin_role"]
