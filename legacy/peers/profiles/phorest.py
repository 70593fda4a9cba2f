"""Phorest's exports: the sales transactions CSV (``TRANSACTIONS_CSV`` of Phorest's CSV export
job, one row per sale line with the sale echoed on each), the vouchers/gift cards outstanding
report and the client courses (bonos). Phorest documents no client or appointment export
columns: those files go through the mapping step.

Columns: https://developer.phorest.com/docs/csv-export-job-endpoint and the Vouchers/Gift Cards
Outstanding report
(https://support.phorest.com/hc/en-us/articles/360018283180-Vouchers-Gift-Cards-Outstanding-report-overview).
"""

from django.utils.translation import gettext_lazy as _

from legacy.peers.profiles import EntityProfile, Profile
from sales.models import PaymentMethod

PROFILE = Profile(
    name="phorest",
    label=_("Phorest"),
    source_url="https://developer.phorest.com/docs/csv-export-job-endpoint",
    date_order="dmy",
    decimal_separator=".",
    entities={
        "sales": EntityProfile(
            columns={
                "key": ("transaction_id",),
                "line_key": ("transaction_item_id",),
                "client_key": ("client_id",),
                "client_name": ("client_first_name",),
                "client_surname": ("client_last_name",),
                "client_email": ("client_email",),
                "date": ("purchased_date",),
                "time": ("purchase_time",),
                "item_type": ("item_type",),
                "item": ("description",),
                "quantity": ("quantity",),
                "unit_price": ("unit_price",),
                "discount": ("discount_amount",),
                "tax_rate": ("tax_rate",),
                "total": ("total_amount",),
                "payment_method": ("payment_type_names",),
                "payment_amounts": ("payment_type_amounts",),
                "void": ("void",),
            },
            ignore=(
                "gross_total_amount",
                "net_total_amount",
                "tax_amount",
                "appointment_date",
                "client_birthday",
                "client_first_visit",
                "purchase_updated_at",
                "original_price",
                "gross_price",
                "net_price",
                "discount_type",
                "discount_value",
                "simple_discount_amount",
                "void_reason",
                "tax_rate_name",
                "branch_name",
                "service_name",
                "product_name",
                "course_name",
                "client_course_name",
                "staff_first_name",
                "staff_last_name",
                "client_gender",
                "client_source",
                "product_code",
                "payment_type_codes",
                "payment_type_ids",
                "payment_type_voucher_serials",
            ),
        ),  # fmt: skip
        "balances": EntityProfile(
            columns={
                "key": ("Serial Number", "Serial"),
                "client_name": ("Client", "Client Name", "Purchased By"),
                "balance": ("Remaining Balance", "Balance Remaining", "Balance", "Remaining"),
                "initial": ("Original Value", "Value"),
                "issued": ("Issue Date",),
                "expires": ("Expiry Date",),
                "name": ("Course", "Course Name"),
                "sessions_remaining": ("Remaining Units",),
            },
        ),
    },
    payment_methods={
        "Credit/Debit Card": PaymentMethod.CARD,
        "Voucher": PaymentMethod.GIFT_CARD,
        "Gift Card": PaymentMethod.GIFT_CARD,
    },  # fmt: skip
)
