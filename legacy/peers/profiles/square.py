"""Square's exports (Square Appointments and Square POS): the customer directory and the Items
Detail sales CSV (one row per line; the line's total with VAT is Net Sales + Tax, the rate is
the tax's share of the net). Money carries the currency sign (``€8.00``, ``-€3.00``,
``(€33.62)``); dates are ISO, older files month first. Square's Transactions CSV (one row per
payment, an amount column per tender) gives the imported sales their payments by card and in
cash. Its appointment history is not documented: the mapping step reads it.

Columns: https://squareup.com/help/us/en/article/5072-customer-directory-import-and-export (the
customer directory export) and the Items Detail and Transactions exports quoted in the research.
"""

from django.utils.translation import gettext_lazy as _

from legacy.peers.profiles import EntityProfile, Profile
from sales.models import CartStatus

PROFILE = Profile(
    name="square",
    label=_("Square Appointments"),
    source_url="https://squareup.com/help/us/en/article/5072-customer-directory-import-and-export",
    date_order="mdy",
    decimal_separator=".",
    entities={
        "clients": EntityProfile(
            columns={
                "key": ("Square Customer ID",),
                "name": ("First Name",),
                "surname": ("Last Name",),
                "email": ("Email Address",),
                "phone": ("Phone Number",),
                "address": ("Street Address 1",),
                "city": ("City",),
                "postal_code": ("Postal Code",),
                "birth_date": ("Birthday",),
                "notes": ("Memo",),
            },
            ignore=(
                "Reference ID",
                "Nickname",
                "Company Name",
                "Street Address 2",
                "State",
                "Creation Source",
                "First Visit",
                "Last Visit",
                "Transaction Count",
                "Lifetime Spend",
                "Email Subscription Status",
                "Instant Profile",
                "Blocked from online booking",
            ),
        ),  # fmt: skip
        "sales": EntityProfile(
            columns={
                "key": ("Transaction ID",),
                "line_key": ("Token",),
                "client_key": ("Customer ID",),
                "client_name": ("Customer Name",),
                "date": ("Date",),
                "time": ("Time",),
                "item": ("Item",),
                "quantity": ("Qty",),
                "net_total": ("Net Sales",),
                "tax_amount": ("Tax",),
                "discount": ("Discounts",),
                "item_type": ("Itemization Type",),
                "status": ("Event Type",),
            },
            ignore=(
                "Gross Sales",
                "Time Zone",
                "Category",
                "Price Point Name",
                "SKU",
                "Modifiers Applied",
                "Payment ID",
                "Device Name",
                "Notes",
                "Details",
                "Location",
                "Dining Option",
                "Customer Reference ID",
                "Unit",
                "Count",
                "GTIN",
                "Commission",
                "Employee",
                "Fulfillment Note",
                "Channel",
                "Card Brand",
                "PAN Suffix",
            ),
            statuses={"Payment": CartStatus.COMPLETED, "Refund": CartStatus.CANCELLED},
            not_if=("Total Collected",),
        ),  # fmt: skip
        # The Transactions CSV: one row per payment, an amount column per tender.
        "payments": EntityProfile(
            columns={
                "key": ("Transaction ID",),
                "card": ("Card",),
                "cash": ("Cash",),
                "other": ("Other Tender", "Square Gift Card"),
                "collected": ("Total Collected",),
            },
            ignore=(
                "Card Entry Methods",
                "Other Tender Type",
                "Tender Note",
                "Fees",
                "Net Total",
                "Tip",
                "Gift Card Sales",
                "Partial Refunds",
                "Payment ID",
                "Card Brand",
                "PAN Suffix",
            ),
        ),  # fmt: skip
    },
)
