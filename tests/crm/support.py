"""Clients who have a row in every model that holds personal data: for export and erasure."""

from datetime import timedelta

from django.utils import timezone

from crm.models import Client
from crm.services import client_merge, consent_revoke
from marketing.models import GiftCardMovementKind
from tests import factories as f

LONG_AGO = timezone.now() - timedelta(days=3 * 365)


def client_with_everything(first_name: str, surname: str = "Vidal") -> Client:
    """A client with at least one row in every model the registry names, one old sale archived."""
    client = f.ClientFactory(
        name=first_name, surname=surname, address=f"Carrer {surname} 1", document_type="DNI",
        document_number=f"{first_name[:4].upper()}1234Z", notes=f"{first_name} prefers mornings",
    )  # fmt: skip
    client.city = "Girona"
    client.save()  # a second version in the history table
    consent = f.SignedConsentFactory(client=client, notes=f"{first_name} signed on paper")
    consent_revoke(consent=consent, actor=None, reason=f"{first_name} changed her mind")
    f.QuestionnaireFactory(client=client, answers={"allergies": f"{first_name}-latex"})
    booking = f.BookingFactory(client=client, notes=f"{first_name} is late sometimes")
    f.BookingItemFactory(booking=booking)
    sale = f.CompletedCartFactory(client=client, notes=f"{first_name} paid half", booking=booking)
    f.CartItemFactory(cart=sale)
    f.PaymentFactory(cart=sale)
    f.InvoiceFactory(cart=sale, customer_tax_id=f"{first_name[:4].upper()}1234Z")
    debt = f.DebtFactory(client=client, cart=sale)
    f.DebtPaymentFactory(debt=debt)
    bono = f.ClientBonusFactory(client=client)
    f.BonusRedemptionFactory(client_bonus=bono, booking=booking, note=f"{first_name} used one")
    card = f.GiftCardFactory(owner=client)
    f.GiftCardMovementFactory(gift_card=card, kind=GiftCardMovementKind.ISSUE)
    old_sale = f.CompletedCartFactory(client=client, completed_at=LONG_AGO, created_at=LONG_AGO)
    f.CartItemFactory(cart=old_sale)
    f.PaymentFactory(cart=old_sale)
    f.InvoiceFactory(cart=old_sale, year=LONG_AGO.year)
    f.AuditEntryFactory(target_type="crm.client", target_id=str(client.pk), target_label=str(client))
    # An old record of the same person, merged in: the merge keeps the email it gave up.
    duplicate = f.ClientFactory(name=first_name, surname=surname, email=f"{first_name.lower()}.antiguo@example.com")
    client_merge(survivor=client, duplicates=[duplicate], actor=None)
    client.refresh_from_db()
    return client


def merged_duplicate(client: Client) -> int:
    """The id of the older record merged into ``client`` by :func:`client_with_everything`."""
    from crm.models import ClientMergeRecord

    (merged_id,) = ClientMergeRecord.objects.get(survivor_id=client.pk).merged_ids
    return merged_id
