"""The till: what the checkout screen asks (several payments, a tip, a gift card to sell, a
coupon, credit) and what it shows before anyone pays (the client's bonos, each usable or why not).
The sale itself is ``sales.services.cart_checkout``; this module only turns the screen's answers
into its requests."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from marketing.models import ClientBonus, ClientBonusStatus
from sales.models import PaymentMethod
from sales.services import LineRequest, PaymentRequest

PAYMENT_ROWS = 3


class TillForm(forms.Form):
    coupon = forms.CharField(label=_("Coupon code"), required=False, max_length=40)
    tip = forms.DecimalField(
        label=_("Tip"), required=False, max_digits=12, decimal_places=2, min_value=0,
        help_text=_("Paid on top of the total; not part of the invoice."),
    )  # fmt: skip
    gift_card_amount = forms.DecimalField(
        label=_("Also sell a gift card of"), required=False, max_digits=12, decimal_places=2, min_value=Decimal("0.01"),
        help_text=_("The sale creates the card; its code is on the sale's lines."),
    )  # fmt: skip
    on_credit = forms.BooleanField(
        label=_("On credit"), required=False,
        help_text=_("What the payments above leave unpaid becomes the client's debt."),
    )  # fmt: skip
    due_date = forms.DateField(
        label=_("Debt due on"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, lines: list[LineRequest] = (), bonos: list[ClientBonus] = (), **kwargs):
        """``lines`` are the sale's; each service line that one of the usable ``bonos`` covers
        gets a choice: charge it, or use a session of that bono."""
        super().__init__(*args, **kwargs)
        self.lines, self.bono_fields = list(lines), {}
        for index, line in enumerate(self.lines):
            covering = [bono for bono in bonos if line.service and line.service in bono.services.all()]
            if not covering:
                continue
            name = f"bono_{index}"
            choices = [("", _("Charge %(service)s") % {"service": line.service.name})]
            choices += [(str(bono.pk), _("Use a session of %(bono)s") % {"bono": bono.name}) for bono in covering]
            self.fields[name] = forms.ChoiceField(label=line.service.name, choices=choices, required=False)
            self.bono_fields[name] = (index, {bono.pk: bono for bono in covering})

    def lines_to_sell(self) -> list[LineRequest]:
        """The sale's lines, with a bono session in place of each service paid by bono, and the
        gift card to sell, if any."""
        lines = list(self.lines)
        for name, (index, covering) in self.bono_fields.items():
            if self.cleaned_data.get(name):
                bono = covering[int(self.cleaned_data[name])]
                lines[index] = LineRequest(client_bonus=bono, quantity=lines[index].quantity)
        if self.cleaned_data.get("gift_card_amount"):
            lines.append(LineRequest(gift_card_amount=self.cleaned_data["gift_card_amount"]))
        return lines

    def bono_rows(self):
        return [self[name] for name in self.bono_fields]


class PaymentForm(forms.Form):
    method = forms.ChoiceField(label=_("Paid by"), choices=[("", "---------"), *PaymentMethod.choices], required=False)
    amount = forms.DecimalField(
        label=_("Amount"), required=False, max_digits=12, decimal_places=2, min_value=Decimal("0.01"),
        help_text=_("Empty: whatever is left to pay."),
    )  # fmt: skip
    gift_card_code = forms.CharField(label=_("Gift card code"), required=False, max_length=40)

    def clean(self):
        data = super().clean()
        if data.get("method") == PaymentMethod.GIFT_CARD and not data.get("gift_card_code"):
            self.add_error("gift_card_code", _("A gift card payment needs the card's code."))
        if data.get("gift_card_code") and data.get("method") != PaymentMethod.GIFT_CARD:
            self.add_error("method", _("A gift card code is only used with the gift card method."))
        if data.get("amount") and not data.get("method"):
            self.add_error("method", _("Choose how this amount is paid."))
        return data


class BasePaymentFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        rows = [form.cleaned_data for form in self.forms if form.cleaned_data.get("method")]
        if sum(1 for row in rows if row.get("amount") is None) > 1:
            raise forms.ValidationError(_("Only one payment may be left without an amount (it pays the rest)."))

    def payment_requests(self, *, on_credit: bool = False) -> list[PaymentRequest]:
        """The filled rows, the one without an amount last (it pays what the others leave). On
        credit, a row without an amount is left out: what the others leave is owed."""
        rows = [form.cleaned_data for form in self.forms if form.cleaned_data.get("method")]
        if on_credit:
            rows = [row for row in rows if row.get("amount") is not None]
        rows.sort(key=lambda row: row.get("amount") is None)
        return [PaymentRequest(row["method"], row.get("amount"), row.get("gift_card_code") or None) for row in rows]


# min_num=1: the first row comes filled in ("Card", pays the rest) and must count even unchanged.
PaymentFormSet = forms.formset_factory(
    PaymentForm, formset=BasePaymentFormSet, min_num=1, extra=PAYMENT_ROWS - 1, max_num=10
)


@dataclass(frozen=True)
class BonoState:
    """A client's bono as the till shows it: usable or not, and in words why."""

    client_bonus: ClientBonus
    usable: bool
    explanation: str


def bono_states(client, *, on: date | None = None) -> list[BonoState]:
    """Every bono of ``client`` that is not long gone: the usable ones first, then those expired
    or used up (shown and explained rather than silently missing from the till)."""
    if client is None:
        return []
    today = on or timezone.localdate()
    bonos = ClientBonus.objects.filter(client=client).order_by("expires_on", "id").prefetch_related("services")
    states = [_state(bono, today) for bono in bonos]
    return sorted(states, key=lambda state: not state.usable)


def _state(bono: ClientBonus, today: date) -> BonoState:
    left = {"left": bono.sessions_remaining, "total": bono.sessions_total}
    if bono.expires_on and bono.expires_on < today or bono.status == ClientBonusStatus.EXPIRED:
        day = formats.date_format(bono.expires_on, "SHORT_DATE_FORMAT") if bono.expires_on else "—"
        return BonoState(bono, False, gettext("Expired on %(day)s: its sessions can no longer be used.") % {"day": day})
    if bono.sessions_remaining <= 0 or bono.status == ClientBonusStatus.EXHAUSTED:
        return BonoState(bono, False, gettext("All %(total)s sessions used.") % left)
    explanation = gettext("%(left)s of %(total)s sessions left") % left
    if bono.expires_on:
        day = formats.date_format(bono.expires_on, "SHORT_DATE_FORMAT")
        explanation += " · " + gettext("valid until %(day)s") % {"day": day}
    return BonoState(bono, True, explanation)
