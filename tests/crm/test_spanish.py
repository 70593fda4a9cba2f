"""crm speaks the reader's language: refusals, API errors and the GDPR commands' output in
Spanish for a Spanish salon; what is stored on a record (an erased client's name, a merge note)
in the salon's language, whoever did it."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from rest_framework.test import APIClient

from crm.erasure import client_erase
from crm.models import Client, ConsentStatus, CrmError, Language, User
from crm.services import client_merge
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_the_account_language_choices_are_the_salons_languages():
    assert Language.values == [code for code, _name in settings.LANGUAGES]
    assert User._meta.get_field("language").choices == Language.choices


def test_a_consent_refusal_reads_in_spanish():
    consent = f.SignedConsentFactory()
    with translation.override("es"), pytest.raises(CrmError, match="ya está firmado"):
        consent.sign()


def test_an_erased_client_is_named_in_the_salons_language(settings):
    settings.LANGUAGE_CODE = "es"
    client = f.BookingFactory().client  # business history: the row stays, anonymised
    with translation.override("en"):  # the admin who erases reads English; the record keeps Spanish
        plan = client_erase(client=client, actor=None)
    assert not plan.client_deleted
    assert Client.all_objects.get(pk=client.pk).name == f"Cliente suprimido {client.pk}"


def test_a_merge_note_is_written_in_the_salons_language(settings):
    settings.LANGUAGE_CODE = "es"
    survivor, duplicate = f.ClientFactory(), f.ClientFactory()
    with translation.override("en"):
        client_merge(survivor=survivor, duplicates=[duplicate], actor=None)
    assert f"Fusionado en el cliente n.º {survivor.pk}." in Client.all_objects.get(pk=duplicate.pk).notes


def test_gdpr_erase_reports_in_spanish():
    client = f.ClientFactory()
    f.ConsentFactory(client=client, status=ConsentStatus.UNSIGNED)
    out = io.StringIO()
    with translation.override("es"):
        call_command("gdpr_erase", str(client.pk), "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"Se suprimiría el cliente n.º {client.pk}" in text
    assert "Consentimientos: 1 fila eliminada" in text


def test_gdpr_export_refuses_in_spanish():
    with translation.override("es"), pytest.raises(CommandError, match="No hay ningún cliente"):
        call_command("gdpr_export", "nobody@mail.example")


def test_drf_create_token_speaks_spanish(staff_user):
    out = io.StringIO()
    with translation.override("es"):
        call_command("drf_create_token", staff_user.email, stdout=out)
    assert out.getvalue().startswith(f"Token de API para {staff_user.email}, caduca el ")


def test_api_errors_read_in_spanish_for_a_spanish_user(admin_user):
    admin_user.language = "es"
    admin_user.save(update_fields=["language"])
    taken = f.ClientFactory(email="ana@mail.example")
    api = APIClient()
    api.force_login(admin_user)  # the session: the language middleware knows the user
    response = api.post("/api/clients", {"name": "Ana", "email": taken.email}, format="json")
    assert response.status_code == 400
    assert response.json()["email"] == ["Ya existe un cliente con este correo electrónico."]


def test_verifyaudit_reports_in_spanish():
    f.AuditEntryFactory()
    out = io.StringIO()
    with translation.override("es"):
        call_command("verifyaudit", stdout=out)
    assert "la cadena de hashes del registro de auditoría está intacta" in out.getvalue()
