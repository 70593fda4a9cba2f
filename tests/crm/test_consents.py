"""The consent lifecycle (UNSIGNED → SIGNED → REVOKED) and the clients who lack a required one."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction

from audit.models import AuditEntry
from bookings.models import BookingStatus
from crm.models import Client, Consent, ConsentStatus, ConsentType, CrmError, Revoke
from crm.services import consent_revoke, consent_sign
from tests import factories as f
from tests.helpers import admin_url

pytestmark = pytest.mark.django_db


def test_signing_records_the_date_the_document_and_who_did_it(staff_user):
    consent = f.ConsentFactory(kind=ConsentType.LASER)
    form = SimpleUploadedFile("laser.pdf", b"%PDF-1.4 signed", content_type="application/pdf")
    consent_sign(consent=consent, actor=staff_user, document=form)
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.SIGNED
    assert consent.signed_at is not None
    assert consent.document.name.startswith("consents/")
    entry = AuditEntry.objects.get(action="crm.consent.signed")
    assert (entry.actor, entry.target_id) == (staff_user, str(consent.pk))


def test_a_signed_consent_cannot_be_signed_twice():
    consent = f.SignedConsentFactory()
    with pytest.raises(CrmError, match="already signed"):
        consent.sign()


def test_revoking_links_the_revocation_and_marks_the_consent_revoked(staff_user):
    consent = f.SignedConsentFactory(kind=ConsentType.INDIBA)
    revoke = consent_revoke(consent=consent, actor=staff_user, reason="Pregnant")
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.REVOKED
    assert list(consent.revokes.all()) == [revoke]
    assert (revoke.client, revoke.reason) == (consent.client, "Pregnant")
    assert AuditEntry.objects.filter(action="crm.consent.revoked", target_id=str(consent.pk)).exists()


def test_a_revoked_consent_cannot_be_revoked_again():
    consent = f.SignedConsentFactory()
    consent.revoke("First")
    with pytest.raises(CrmError, match="already revoked"):
        consent.revoke("Second")
    assert Revoke.objects.count() == 1


def test_a_revoked_consent_is_not_re_signed_without_a_new_form():
    consent = f.SignedConsentFactory(document_url="https://docs.example/laser-2024.pdf")
    consent.revoke("Changed her mind")
    with pytest.raises(CrmError, match="newly signed form"):
        consent.sign()
    with pytest.raises(CrmError, match="newly signed form"):
        consent.sign(document_url="https://docs.example/laser-2024.pdf")
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.REVOKED


def test_a_new_signed_form_signs_a_revoked_consent_again_and_keeps_the_revocation():
    consent = f.SignedConsentFactory(document_url="https://docs.example/laser-2024.pdf")
    consent.revoke("Changed her mind")
    consent.sign(document_url="https://docs.example/laser-2025.pdf")
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.SIGNED
    assert consent.revokes.count() == 1
    assert [v.status for v in consent.history.order_by("history_id")] == ["SIGNED", "REVOKED", "SIGNED"]


def test_one_consent_per_client_and_type():
    consent = f.ConsentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Consent.objects.create(client=consent.client, kind=consent.kind)


def test_adding_a_revocation_in_the_admin_revokes_the_consent(admin_browser):
    consent = f.SignedConsentFactory()
    response = admin_browser.post(
        admin_url(Revoke, "add"),
        {
            "client": consent.client_id,
            "consent": consent.pk,
            "reason": "By e-mail",
            "revoked_at_0": "2026-01-05",
            "revoked_at_1": "10:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.REVOKED
    assert consent.revokes.get().reason == "By e-mail"


# --- who is missing a required consent ------------------------------------------------------


def book(client, service, status=BookingStatus.PENDING):
    return f.BookingItemFactory(booking=f.BookingFactory(client=client, status=status), service=service)


@pytest.fixture
def laser():
    return f.ServiceFactory(name="Laser legs", required_consent=ConsentType.LASER)


def test_the_filter_finds_exactly_the_clients_booked_without_the_signed_consent(laser):
    plain = f.ServiceFactory(name="Manicure")
    never = f.ClientFactory(name="Never")
    unsigned = f.ClientFactory(name="Unsigned")
    revoked = f.ClientFactory(name="Revoked")
    signed = f.ClientFactory(name="Signed")
    other_kind = f.ClientFactory(name="OtherKind")
    cancelled = f.ClientFactory(name="Cancelled")
    not_booked = f.ClientFactory(name="NotBooked")
    manicure_only = f.ClientFactory(name="ManicureOnly")
    for client in (never, unsigned, revoked, signed, other_kind):
        book(client, laser)
    book(cancelled, laser, status=BookingStatus.CANCELLED)
    book(manicure_only, plain)
    f.ConsentFactory(client=unsigned, kind=ConsentType.LASER)
    f.SignedConsentFactory(client=revoked, kind=ConsentType.LASER).revoke("No")
    f.SignedConsentFactory(client=signed, kind=ConsentType.LASER)
    f.SignedConsentFactory(client=other_kind, kind=ConsentType.INDIBA)
    f.SignedConsentFactory(client=not_booked, kind=ConsentType.INDIBA)

    missing = set(Client.objects.missing_required_consent().values_list("name", flat=True))
    assert missing == {"Never", "Unsigned", "Revoked", "OtherKind"}
    assert Client.objects.missing_required_consent(ConsentType.INDIBA).count() == 0


def test_the_client_changelist_filters_and_shows_what_is_missing(admin_browser, laser):
    indiba = f.ServiceFactory(name="INDIBA face", required_consent=ConsentType.INDIBA)
    lacking, fine = f.ClientFactory(name="Lacking"), f.ClientFactory(name="Fine")
    book(lacking, laser)
    book(lacking, indiba)
    book(fine, laser)
    f.SignedConsentFactory(client=fine, kind=ConsentType.LASER)

    response = admin_browser.get(admin_url(Client, "changelist"), {"missing_consent": "any"})
    assert response.status_code == 200
    assert [c.name for c in response.context["cl"].result_list] == ["Lacking"]
    page = response.content.decode()
    assert "Laser treatment" in page and "INDIBA treatment" in page
    only_laser = admin_browser.get(admin_url(Client, "changelist"), {"missing_consent": ConsentType.LASER})
    assert [c.name for c in only_laser.context["cl"].result_list] == ["Lacking"]
