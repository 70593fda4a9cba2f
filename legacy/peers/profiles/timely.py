"""Timely's exports: the "Customer credit details" report (gift vouchers and credits: customer,
reason, status, expiry or "Never", amount, redeemed, outstanding). It has no id column: each
row's key is a hash of customer, reason, amount and expiry. Only an active credit is a live
balance. Timely documents no client, appointment, service or sales export columns: those files go
through the mapping step. Dates follow the account's locale: day first in Spain.

Columns: https://help.gettimely.com/article/360-tracking-gift-vouchers (the customer credit and
gift voucher reports).
"""

from django.utils.translation import gettext_lazy as _

from legacy.peers.profiles import EntityProfile, Profile

PROFILE = Profile(
    name="timely",
    label=_("Timely"),
    source_url="https://help.gettimely.com/article/360-tracking-gift-vouchers",
    date_order="dmy",
    entities={
        "balances": EntityProfile(
            columns={
                "client_name": ("Customer",),
                "name": ("Reason",),
                "status": ("Status",),
                "expires": ("Expiry",),
                "initial": ("Amount",),
                "balance": ("Outstanding",),
                "code": ("Code",),
            },
            ignore=("Redeemed", "Gift Voucher", "Recipient"),
            key_from=("client_name", "name", "initial", "expires"),
        ),
    },
)
