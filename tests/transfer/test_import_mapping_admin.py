"""The admin import's column-mapping step: a file with someone else's headers is matched to
Beils' columns with dropdowns, previewed as it will be stored, remembered per source, then
imported as any other file; Beils' own files never see the step; no input gives a 5xx."""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEntry
from catalog.models import Product
from crm.models import Client, Role
from tests.conftest import PASSWORD, _person
from tests.helpers import admin_url
from transfer.import_export_admin import ImportExportAdmin
from transfer.import_mapping import SESSION_KEY
from transfer.jobs import job_run
from transfer.models import Job, JobState, SavedMapping

pytestmark = pytest.mark.django_db

MESSY = (
    "Nombre;Apellidos;Correo electrónico;Teléfono;Fecha de nacimiento;Notas\r\n"
    "Begoña;Íñiguez;BEGO@Example.COM;600 111 222;31/12/1990;Alérgica al látex\r\n"
    "Lucía;Peña;lucia@example.com;611 222 333;01/02/1985;\r\n"
)


def upload(browser, model, content: bytes | str, name="clientes.csv"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return browser.post(admin_url(model, "import"), {"resource": "0", "import_file": SimpleUploadedFile(name, data)})


def mapping_page(browser, model, content, **kwargs):
    response = upload(browser, model, content, **kwargs)
    assert response.status_code == 302, response.content[:500]
    assert "/import/mapping/" in response["Location"]
    return response["Location"], browser.get(response["Location"])


def choices(page) -> dict:
    """The posted form of the mapping page, as its dropdowns and fields stand."""
    form, options = page.context["form"], page.context["options"]
    data = {name: form.initial.get(name, "") for name in form.fields}
    shown = options.data if options.is_bound else options.initial
    data.update({"source": shown["source"], "date_order": shown["date_order"], "remember": "on"})
    data["loaded_source"] = shown.get("loaded_source", "")
    return data


def confirm(browser, model, response):
    form = response.context["confirm_form"]
    return browser.post(admin_url(model, "process_import"), {**form.initial, "confirm": "1"})


def test_a_messy_spanish_csv_is_mapped_previewed_and_stored_as_beils_reads_it(admin_browser, admin_user):
    url, page = mapping_page(admin_browser, Client, MESSY.encode("cp1252"))

    assert page.status_code == 200
    assert choices(page) | {} == {
        "column_0": "Name", "column_1": "Surname", "column_2": "Email", "column_3": "Phone",
        "column_4": "Birth date", "column_5": "Notes", "source": "generic", "date_order": "dmy", "remember": "on",
        "loaded_source": "generic",
    }  # fmt: skip
    text = page.content.decode()
    # As it will be stored: the date read day first and shown unambiguously, the e-mail lower-cased.
    assert "Dec. 31, 1990" in text and "bego@example.com" in text
    stored = page.wsgi_request.session[SESSION_KEY]
    (entry,) = stored.values()
    assert default_storage.exists(entry["name"])

    dry_run = admin_browser.post(url, {**choices(page), "source": "Excel de recepción", "_continue": "1"})

    assert dry_run.status_code == 200
    assert dry_run.context["confirm_form"] is not None
    assert not Client.objects.exists()  # nothing written before the confirmation
    assert not default_storage.exists(entry["name"])  # the stored upload is gone
    assert confirm(admin_browser, Client, dry_run).status_code == 302
    bego = Client.objects.get(email="bego@example.com")
    assert (bego.name, bego.surname, bego.phone) == ("Begoña", "Íñiguez", "600 111 222")
    assert bego.birth_date == date(1990, 12, 31) and bego.notes == "Alérgica al látex"
    assert Client.objects.get(email="lucia@example.com").birth_date == date(1985, 2, 1)
    saved = SavedMapping.objects.get(resource="client")
    assert saved.source == "excel de recepcion" and saved.updated_by == admin_user
    assert saved.columns["correo electronico"] == "Email"
    imported = AuditEntry.objects.for_action("maintenance.import.done").filter(outcome="SUCCESS").get()
    assert imported.detail["mapping"]["source"] == "excel de recepcion"
    assert imported.detail["mapping"]["mapping"]["Fecha de nacimiento"] == "Birth date"
    assert AuditEntry.objects.for_action("transfer.mapping.saved").get().detail["source"] == "excel de recepcion"


def test_a_corrected_column_is_remembered_and_the_next_file_from_the_source_is_prefilled(admin_browser):
    headers = "Nombre;Apellidos;Correo electrónico;Contacto;Fecha de nacimiento;Notas\r\n"
    url, page = mapping_page(admin_browser, Client, headers + "Ana;Gil;ana@example.com;91 555;31/12/1990;x\r\n")
    assert choices(page)["column_3"] == ""  # "Contacto": not guessed
    corrected = {**choices(page), "column_3": "Phone", "source": "Salon Pro", "_continue": "1"}
    assert admin_browser.post(url, corrected).context["confirm_form"] is not None

    _url, again = mapping_page(admin_browser, Client, headers + "Eva;Sol;eva@example.com;93 111;02/03/1970;\r\n")

    assert choices(again)["column_3"] == "Phone"  # from memory
    assert choices(again)["source"] == "salon pro"  # the source used last time


def test_beils_own_headers_skip_the_step(admin_browser):
    response = upload(admin_browser, Client, "Email;Name;Surname\r\nana@example.com;Ana;Gil\r\n")

    assert response.status_code == 200
    assert response.context["confirm_form"] is not None


def test_dates_may_be_month_first(admin_browser):
    url, page = mapping_page(admin_browser, Client, "Correo;Nombre;Cumpleaños\r\nana@example.com;Ana;12/31/1990\r\n")
    mdy = {**choices(page), "date_order": "mdy"}

    refreshed = admin_browser.post(url, {**mdy, "_preview": "1"})
    assert "Dec. 31, 1990" in refreshed.content.decode()
    confirm(admin_browser, Client, admin_browser.post(url, {**mdy, "_continue": "1"}))

    assert Client.objects.get().birth_date == date(1990, 12, 31)


def test_a_products_price_in_spanish_is_stored_to_the_cent(manager_browser):
    url, page = mapping_page(
        manager_browser, Product, "Referencia;Producto;Precio;IVA\r\nCHAMP-1;Champú sólido;12,50;21\r\n"
    )
    assert "12.50" in page.content.decode()

    confirm(manager_browser, Product, manager_browser.post(url, {**choices(page), "_continue": "1"}))

    product = Product.objects.get(sku="CHAMP-1")
    assert (product.name, product.price, product.tax_rate) == ("Champú sólido", Decimal("12.50"), Decimal("21"))


def test_an_xlsx_file_is_mapped_too(admin_browser):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["E-mail", "Nombre", "Fecha de nacimiento"])
    book.active.append(["ana@example.com", "Ana", "31/12/1990"])
    buffer = io.BytesIO()
    book.save(buffer)
    url, page = mapping_page(admin_browser, Client, buffer.getvalue(), name="clientes.xlsx")

    confirm(admin_browser, Client, admin_browser.post(url, {**choices(page), "_continue": "1"}))

    assert Client.objects.get().birth_date == date(1990, 12, 31)


def test_a_large_mapped_file_is_queued_already_mapped(admin_browser, monkeypatch):
    monkeypatch.setattr(ImportExportAdmin, "import_background_bytes", 100)
    rows = "".join(f"Cliente{n};cliente{n}@example.com;31/12/1990\r\n" for n in range(20))
    url, page = mapping_page(admin_browser, Client, "Nombre;Correo;Nacimiento\r\n" + rows)

    response = admin_browser.post(url, {**choices(page), "_continue": "1"})

    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{job.pk}/change/")
    with default_storage.open(job.input_name, "rb") as fh:
        first_lines = fh.read().decode("utf-8-sig").splitlines()[:2]
    assert first_lines == ["Name;Email;Birth date", "Cliente0;cliente0@example.com;1990-12-31"]
    queued = AuditEntry.objects.for_action("maintenance.import.queued").get()
    assert queued.detail["mapping"]["mapping"]["Correo"] == "Email"
    job.refresh_from_db()
    if job.state == JobState.QUEUED:
        job_run(job)
    job.refresh_from_db()
    assert job.state == JobState.VALIDATED, job.error
    assert job.summary["mapping"]["source"] == "generic"
    checked = AuditEntry.objects.for_action("maintenance.import.done").get()
    assert checked.detail["mapping"]["mapping"]["Nacimiento"] == "Birth date"


# --- Who may, and hostile input ---------------------------------------------------------------


def test_staff_and_managers_may_not_map_a_client_file(admin_browser, staff_browser, manager_browser, anonymous_browser):
    url, _page = mapping_page(admin_browser, Client, MESSY)

    signed_out = anonymous_browser.get(url)
    assert signed_out.status_code == 302 and "/login/" in signed_out["Location"]

    assert upload(staff_browser, Client, MESSY).status_code == 403
    assert upload(manager_browser, Client, MESSY).status_code == 403
    assert staff_browser.get(url).status_code == 403
    assert manager_browser.get(url).status_code == 403


def test_another_persons_or_a_made_up_token_is_refused(admin_browser, client):
    url, _page = mapping_page(admin_browser, Client, MESSY)
    other = _person("otra@salon.example", "Otra", Role.ADMIN)
    assert client.login(email=other.email, password=PASSWORD)

    assert client.get(url).status_code == 403
    assert client.post(url, {"_continue": "1"}).status_code == 403
    assert admin_browser.get(url.replace("/mapping/", "/mapping/0").replace("//", "/")).status_code in (403, 404)
    assert admin_browser.get(url.rstrip("/") + "%2F..%2F..%2Fetc/").status_code < 500
    assert not Client.objects.exists()


def test_a_mapping_whose_file_is_gone_sends_back_to_the_upload(admin_browser):
    url, page = mapping_page(admin_browser, Client, MESSY)
    (entry,) = page.wsgi_request.session[SESSION_KEY].values()
    default_storage.delete(entry["name"])

    response = admin_browser.post(url, {**choices(page), "_continue": "1"}, follow=True)

    assert response.status_code == 200
    assert "no longer here" in response.content.decode()
    assert admin_browser.get(url).status_code == 403  # the token is forgotten


def test_a_field_chosen_twice_or_a_required_one_missing_is_refused_inline(admin_browser):
    url, page = mapping_page(admin_browser, Client, MESSY)

    twice = admin_browser.post(url, {**choices(page), "column_1": "Name", "_continue": "1"})
    missing = admin_browser.post(url, {**choices(page), "column_2": "", "_continue": "1"})

    assert twice.status_code == 200 and "two columns" in twice.content.decode()
    assert missing.status_code == 200 and "Choose a column for" in missing.content.decode()
    assert not Client.objects.exists()


def test_a_binary_file_is_refused_by_the_import_not_the_mapping(admin_browser):
    response = upload(admin_browser, Client, b"\x00\x01\x02binary\x00" * 50, name="x.csv")

    assert response.status_code == 200
    assert response.context["form"].errors


def test_empty_and_repeated_headers_get_names_and_formulas_are_shown_escaped(admin_browser):
    content = "Correo;;Nombre;Nombre;=cmd|' /C calc'!A0;<b>x</b>\r\nana@example.com;1;Ana;Ana2;2;3\r\n"
    url, page = mapping_page(admin_browser, Client, content)

    text = page.content.decode()
    assert "(column 2)" in text and "Nombre (2)" in text
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text
    assert "=cmd|&#x27; /C calc&#x27;!A0" in text
    confirm(admin_browser, Client, admin_browser.post(url, {**choices(page), "_continue": "1"}))
    assert Client.objects.get().name == "Ana"


def test_a_file_of_a_thousand_columns_is_refused_with_a_reason(admin_browser):
    headers = ";".join(f"Columna {n}" for n in range(1000))
    response = upload(admin_browser, Client, headers + "\r\n" + ";".join("x" * 1000) + "\r\n")

    page = admin_browser.get(response["Location"], follow=True)
    assert page.status_code == 200
    assert "1000 columns" in page.content.decode()


def test_a_month_first_source_is_remembered_and_its_next_file_is_read_month_first(admin_browser):
    url, page = mapping_page(admin_browser, Client, "Correo;Nombre;Cumpleaños\r\nana@example.com;Ana;12/31/1990\r\n")
    assert choices(page)["date_order"] == "dmy"  # nothing known of the source yet
    confirm(admin_browser, Client, admin_browser.post(
        url, {**choices(page), "source": "Agenda USA", "date_order": "mdy", "_continue": "1"}
    ))  # fmt: skip
    assert SavedMapping.objects.get(resource="client").date_order == "mdy"

    _url, again = mapping_page(admin_browser, Client, "Correo;Nombre;Cumpleaños\r\neva@example.com;Eva;02/03/1970\r\n")

    assert choices(again)["date_order"] == "mdy"
    assert "Feb. 3, 1970" in again.content.decode()  # the preview reads it month first already


def test_typing_a_known_source_brings_its_date_order_along(admin_browser):
    SavedMapping.objects.create(source="agenda usa", resource="client", columns={"correo": "Email"}, date_order="mdy")
    url, page = mapping_page(admin_browser, Client, "Correo;Nombre;Cumpleaños\r\nana@example.com;Ana;02/03/1970\r\n")
    assert choices(page)["date_order"] == "dmy"
    assert "March 2, 1970" in page.content.decode()

    reloaded = admin_browser.post(url, {**choices(page), "source": "Agenda USA", "_preview": "1"})

    assert choices(reloaded)["date_order"] == "mdy"
    assert "Feb. 3, 1970" in reloaded.content.decode()


def test_a_mapping_post_without_a_stored_upload_is_refused(admin_browser):
    assert admin_browser.post(admin_url(Client, "import_mapping", "f" * 32), {"_continue": "1"}).status_code == 403


def test_typing_another_source_reloads_the_dropdowns_from_its_memory(admin_browser):
    SavedMapping.objects.create(source="salon pro", resource="client", columns={"contacto": "Phone"})
    headers = "Nombre;Correo;Contacto\r\nAna;ana@example.com;91 555\r\n"
    url, page = mapping_page(admin_browser, Client, headers)
    assert choices(page)["column_2"] == ""

    reloaded = admin_browser.post(url, {**choices(page), "source": "Salon Pro", "_preview": "1"})

    assert choices(reloaded)["column_2"] == "Phone"
    assert "91 555" in reloaded.content.decode()


def test_an_unticked_remember_keeps_nothing_but_the_import_still_says_its_mapping(admin_browser):
    url, page = mapping_page(admin_browser, Client, MESSY)
    unticked = {k: v for k, v in choices(page).items() if k != "remember"}

    confirm(admin_browser, Client, admin_browser.post(url, {**unticked, "_continue": "1"}))

    assert Client.objects.count() == 2
    assert not SavedMapping.objects.exists()
    assert not AuditEntry.objects.for_action("transfer.mapping.saved").exists()
    imported = AuditEntry.objects.for_action("maintenance.import.done").filter(outcome="SUCCESS").get()
    assert imported.detail["mapping"]["source"] == "generic"


def test_an_upload_left_in_the_mapping_step_is_deleted_a_day_later(admin_browser):
    from datetime import timedelta

    from django.utils import timezone

    from transfer.import_mapping import sweep_abandoned

    _url, page = mapping_page(admin_browser, Client, MESSY)
    (entry,) = page.wsgi_request.session[SESSION_KEY].values()

    assert sweep_abandoned() == 0
    assert sweep_abandoned(now=timezone.now() + timedelta(days=2)) == 1
    assert not default_storage.exists(entry["name"])


@pytest.mark.parametrize(
    ("model", "name", "created"), [(Client, "clientes-recepcion.csv", 2), (Product, "productos-recepcion.csv", 2)]
)
def test_the_readmes_example_files_go_through_the_step(admin_browser, model, name, created):
    from pathlib import Path

    content = (Path(__file__).resolve().parents[2] / "docs" / "examples" / name).read_bytes()
    url, page = mapping_page(admin_browser, model, content, name=name)

    assert (
        confirm(admin_browser, model, admin_browser.post(url, {**choices(page), "_continue": "1"})).status_code == 302
    )
    assert model._default_manager.count() == created
