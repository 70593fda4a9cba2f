"""A client's page tells their whole story: appointments, purchases and spend, what they owe,
bonos and gift cards, consents and what is missing, health answers with allergies flagged, and
the latest audit entries: in a fixed number of queries however long the story."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.services import audit_log
from bookings.models import BookingStatus
from crm.models import Client, ConsentStatus, ConsentType
from crm.story import client_story, health_alerts
from tests import factories as f
from tests.helpers import admin_url

pytestmark = pytest.mark.django_db


def _a_long_story(client: Client, size: int) -> None:
    now = timezone.now()
    service = f.ServiceFactory(required_consent=ConsentType.LASER)
    for i in range(size):
        f.BookingItemFactory(
            booking=f.BookingFactory(client=client, start=now + timedelta(days=i + 1)), service=service
        )
        f.BookingFactory(client=client, start=now - timedelta(days=i + 1), status=BookingStatus.COMPLETED)
        f.CompletedCartFactory(client=client, total=Decimal("12.10"))
        f.DebtFactory(client=client, amount=Decimal("10.00"), remaining=Decimal("7.50"))
        f.ClientBonusFactory(client=client, sessions_remaining=3)
        f.GiftCardFactory(owner=client, initial_balance=Decimal("30.00"), current_balance=Decimal("25.00"))
        f.QuestionnaireFactory(client=client, answers={"¿Alergias?": f"látex {i}", "Embarazo": "no"})
        audit_log(action="crm.consent.signed", target=client)
    f.ConsentFactory(client=client, kind=ConsentType.DATA_PROTECTION, status=ConsentStatus.UNSIGNED)


def test_health_answers_that_report_an_allergy_or_a_contraindication_are_flagged():
    answers = {"Allergies": "penicillin", "¿Alergias?": "no", "Contraindicaciones": "Ninguna", "Smoker": "yes",
               "Intolerancia a la lactosa": True, "notes": "allergic to latex"}  # fmt: skip
    assert health_alerts(answers) == [
        ("Allergies", "penicillin"), ("Intolerancia a la lactosa", "✓"), ("notes", "allergic to latex")
    ]  # fmt: skip
    assert health_alerts(["not", "a", "dict"]) == []


def test_the_story_adds_up_the_clients_records(db):
    client = f.ClientFactory()
    _a_long_story(client, 3)
    story = client_story(Client.all_objects.with_missing_consents().get(pk=client.pk))
    assert len(story.upcoming_bookings) == 3 and len(story.past_bookings) == 3 and story.bookings_count == 6
    assert story.purchases_count == 3 and story.spend == Decimal("36.30")
    assert story.debt_total == Decimal("22.50")
    assert len(story.bonos) == 3 and len(story.gift_cards) == 3
    assert [line.kind for line in story.missing_consents] == [ConsentType.LASER]
    assert len(story.health_alerts) == 3 and len(story.history) == 3


@pytest.mark.parametrize("size", [1, 12])
def test_the_client_page_tells_the_story_within_a_fixed_query_budget(
    size, admin_browser, django_assert_max_num_queries
):
    client = f.ClientFactory()
    _a_long_story(client, size)
    # The form and its inlines, and one query per part of the story, however long it is.
    with django_assert_max_num_queries(24):
        response = admin_browser.get(admin_url(Client, "change", client.pk))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Allergies or contraindications reported" in page and "látex 0" in page
    assert "Consents to sign before the next appointment:" in page and "Laser treatment" in page
    assert "sessions left" in page and "Nothing owed." not in page


def test_the_client_page_reads_in_spanish(admin_browser, admin_user):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    client = f.ClientFactory()
    _a_long_story(client, 2)
    page = admin_browser.get(admin_url(Client, "change", client.pk)).content.decode()
    assert "Alergias o contraindicaciones indicadas" in page
    assert "24,20 €" in page  # spend, as money in the reader's format
    assert "Consentimiento firmado" in page  # the audit trail, in words
