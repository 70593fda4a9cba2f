"""The admin page "Import from another salon system": upload, the mapping step, the dry run's
report, the import; ADMIN only; no upload makes it fail with a server error."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as Browser
from django.urls import reverse

from audit.models import AuditEntry
from crm.models import Client
from sales.models import Cart
from tests.legacy.peers.helpers import FILES, counts
from transfer.models import SavedMapping

pytestmark = pytest.mark.django_db
UPLOAD = reverse("admin:legacy_peers_upload")
MESSY = "Nombre y apellidos;Correo electrónico;Teléfono;Fecha de nacimiento;Importe\nPilar Sanz;pilar@example.com;600 123 456;31/12/1990;12,50\n"


def _upload(browser, profile, *files, **extra):
    uploads = [SimpleUploadedFile(name, content) for name, content in files]
    return browser.post(UPLOAD, {"profile": profile, "files": uploads, **extra}, follow=True)


def test_an_admin_imports_fresha_files_after_a_dry_run(admin_browser):
    files = [(p.name, p.read_bytes()) for p in (FILES / "fresha" / "services.csv", FILES / "fresha" / "clients.csv")]

    review = _upload(admin_browser, "fresha", *files)

    assert review.status_code == 200 and b"legacy-peers-confirm" in review.content
    assert b"nothing was written" in review.content and Client.objects.count() == 0
    done = admin_browser.post(review.redirect_chain[-1][0], {"import": "1"}, follow=True)
    assert done.status_code == 200 and b"Every total reconciles" in done.content
    assert Client.objects.count() == 10
    assert AuditEntry.objects.get(action="legacy.peers.imported").actor is not None


def test_a_messy_spanish_file_goes_through_the_mapping_step_and_is_remembered(admin_browser):
    page = _upload(
        admin_browser, "generic", ("clientes.csv", MESSY.encode()), source="Excel de Pilar", entity="clients"
    )

    assert page.status_code == 200 and b"legacy-peers-map" in page.content
    assert b"Pilar Sanz" in page.content and b"Dec. 31, 1990" in page.content  # the preview: a date
    url = page.redirect_chain[-1][0]
    choices = {"f0-shown": "clients", "f0-entity": "clients", "f0-column_0": "name", "f0-column_1": "email",
               "f0-column_2": "phone", "f0-column_3": "birth_date", "f0-column_4": "", "remember": "1",
               "confirm": "1"}  # fmt: skip
    review = admin_browser.post(url, choices, follow=True)
    assert b"legacy-peers-confirm" in review.content
    admin_browser.post(review.redirect_chain[-1][0], {"import": "1"})
    pilar = Client.objects.get(email="pilar@example.com")
    assert str(pilar.birth_date) == "1990-12-31" and pilar.phone == "600 123 456"
    assert SavedMapping.objects.get(resource="peers.clients").columns["correo electronico"] == "email"


def test_the_mapping_step_refuses_a_field_chosen_twice(admin_browser):
    page = _upload(admin_browser, "generic", ("clientes.csv", MESSY.encode()), entity="clients")
    choices = {"f0-shown": "clients", "f0-entity": "clients", "f0-column_0": "name", "f0-column_1": "name",
               "confirm": "1"}  # fmt: skip

    again = admin_browser.post(page.redirect_chain[-1][0], choices)

    assert again.status_code == 200 and b"two columns" in again.content


def test_a_bad_row_is_shown_and_nothing_can_be_imported_until_it_is_skipped(admin_browser):
    sales = FILES / "phorest" / "sales.csv"
    review = _upload(admin_browser, "phorest", (sales.name, sales.read_bytes()))

    assert b"purchased_date" in review.content and b'name="import"' not in review.content
    again = admin_browser.post(review.redirect_chain[-1][0], {"skip_invalid": "1", "review": "1"})
    assert b'name="import"' in again.content
    admin_browser.post(review.redirect_chain[-1][0], {"skip_invalid": "1", "import": "1"})
    assert Cart.objects.count() == 7


@pytest.mark.parametrize(
    "name, content",
    [
        ("vacio.csv", b""),
        ("basura.csv", bytes(range(256)) * 50),
        ("falso.xlsx", b"PK\x03\x04 not a zip at all"),
        ("una-columna.csv", b"hola\n1\n"),
    ],
)
def test_hostile_uploads_are_refused_on_the_form_without_a_server_error(admin_browser, name, content):
    before = counts()

    page = _upload(admin_browser, "fresha", (name, content))

    assert page.status_code == 200
    assert page.redirect_chain == [] or b"legacy-peers-map" in page.content
    assert counts() == before


def test_a_file_over_the_size_limit_is_refused(admin_browser, settings):
    settings.IMPORT_MAX_MB = 0

    page = _upload(admin_browser, "generic", ("clientes.csv", MESSY.encode()))

    assert page.status_code == 200 and b"IMPORT_MAX_MB" in page.content


def test_a_file_whose_columns_the_profile_does_not_know_goes_to_the_mapping_step(admin_browser):
    italian = FILES / "fresha" / "services.csv"

    page = _upload(admin_browser, "phorest", (italian.name, italian.read_bytes()))

    assert page.status_code == 200 and b"legacy-peers-map" in page.content


@pytest.mark.parametrize("who", ["manager_browser", "staff_browser"])
def test_managers_and_staff_are_refused(request, who):
    browser = request.getfixturevalue(who)

    assert browser.get(UPLOAD).status_code == 403
    assert browser.post(UPLOAD, {"profile": "generic"}).status_code == 403


def test_outsiders_and_strangers_are_sent_to_log_in(outsider):
    browser = Browser()
    browser.login(email=outsider.email, password="x")

    response = browser.get(UPLOAD)

    assert response.status_code == 302 and "login" in response.url


def test_another_session_cannot_use_an_upload_token(admin_browser, admin_user):
    page = _upload(admin_browser, "generic", ("clientes.csv", MESSY.encode()), entity="clients")
    other = Browser()
    other.force_login(admin_user)

    assert other.get(page.redirect_chain[-1][0]).status_code == 403


def test_files_uploaded_and_left_at_the_dry_run_are_deleted_after_a_day(admin_browser, settings, tmp_path):
    """They wait in the media storage (any web node may serve the next step), not on one disk."""
    import os

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = tmp_path
    default_storage.save("peers-uploads/abandoned/0", ContentFile(b"Nombre\nAna\n"))
    os.utime(default_storage.path("peers-uploads/abandoned/0"), (0, 0))

    _upload(admin_browser, "generic", ("clientes.csv", MESSY.encode()), entity="clients")

    assert not default_storage.exists("peers-uploads/abandoned/0")
    fresh = [t for t in default_storage.listdir("peers-uploads")[0] if t != "abandoned"]
    assert len(fresh) == 1 and default_storage.listdir(f"peers-uploads/{fresh[0]}")[1] == ["0"]
