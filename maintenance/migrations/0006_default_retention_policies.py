"""The salon guide's retention defaults, as rows a manager can change in the admin."""

from django.db import migrations

YEAR = 365

DEFAULTS = [
    ("completed-sales", "Completed sales", "sales.Cart", "ARCHIVE", 2 * YEAR, 7 * YEAR,
     "Completed sales older than 2 years move to the archive tables (with their lines and payments); "
     "they are purged only after 7 years in total, as tax law requires."),
    ("inactive-users", "Inactive staff accounts", "crm.User", "DEACTIVATE", 2 * YEAR, None,
     "Staff accounts without a login for 2 years are deactivated (they cannot log in; their history stays)."),
    ("inactive-clients", "Inactive clients", "crm.Client", "DEACTIVATE", 2 * YEAR, None,
     "Clients with no booking, sale or change for 2 years are deactivated; erasure is a separate, GDPR decision."),
    ("appointments", "Appointments", "bookings.Booking", "KEEP", None, None,
     "The appointment book is kept indefinitely."),
    ("marketing-review", "Marketing data", "marketing.Coupon", "REVIEW", YEAR, None,
     "Expired coupons, exhausted bonos and spent gift cards are listed yearly for review."),
    ("audit-trail", "Audit trail and logs", "maintenance.AuditEntry", "ROTATE", YEAR, None,
     "Rotated monthly and kept 1 year; entries about invoices and sales are kept as long as the invoices (7 years)."),
]  # fmt: skip


def add_defaults(apps, schema_editor):
    RetentionPolicy = apps.get_model("maintenance", "RetentionPolicy")
    for code, name, target, action, after, purge, notes in DEFAULTS:
        RetentionPolicy.objects.get_or_create(
            code=code,
            defaults={"name": name, "target": target, "action": action, "after_days": after,
                      "purge_after_days": purge, "notes": notes},
        )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0005_lifecycle")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
