"""The column-mapping step across two web nodes: the file uploaded to host 1 waits in the shared
media storage (S3), is mapped on host 2, and the mapped file is confirmed on host 1."""

import io
from datetime import date

import pytest
from django.test import override_settings

from crm.models import Client, Role, User
from tests.two_hosts.conftest import Admin, hidden_inputs

pytestmark = [pytest.mark.mariadb, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "Contraseña con # y 'comillas'"
DEFAULT_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
MESSY = (
    "Nombre;Apellidos;Correo electrónico;Teléfono;Fecha de nacimiento;Notas\r\n"
    "Begoña;Íñiguez;BEGO@Example.com;600 111 222;31/12/1990;Alérgica al látex\r\n"
).encode("cp1252")


def test_a_file_uploaded_on_host_1_is_mapped_on_host_2_and_confirmed_on_host_1(hosts):
    one, two = hosts
    with override_settings(PASSWORD_HASHERS=DEFAULT_HASHERS):  # what the hosts verify with
        User.objects.create_user(email="alba@salon.example", password=PASSWORD, name="Alba", role=Role.ADMIN)
    alba = Admin("alba@salon.example", PASSWORD)
    alba.login(one)

    uploaded = alba.post(
        one, "/admin/crm/client/import/", {"format": "0", "resource": "0"},
        files={"import_file": ("clientes.csv", io.BytesIO(MESSY), "text/csv")}, allow_redirects=False,
    )  # fmt: skip
    assert uploaded.status_code == 302, uploaded.text[-2000:]
    mapping = uploaded.headers["Location"]
    assert "/import/mapping/" in mapping

    page = alba.get(two, mapping)
    assert page.status_code == 200 and "bego@example.com" in page.text, page.text[-2000:]
    columns = ["Name", "Surname", "Email", "Phone", "Birth date", "Notes"]
    choices = {f"column_{n}": name for n, name in enumerate(columns)}
    dry_run = alba.post(
        two, mapping, {**choices, "source": "recepción", "date_order": "dmy", "remember": "on", "_continue": "1"}
    )
    assert dry_run.ok and "process_import" in dry_run.text, dry_run.text[-2000:]
    assert not Client.all_objects.exists()

    confirm = hidden_inputs(dry_run.text, "/admin/crm/client/process_import/")
    done = alba.post(one, "/admin/crm/client/process_import/", confirm, form_page="/admin/crm/client/import/")
    assert done.status_code == 200, done.text[-2000:]
    bego = Client.all_objects.get()
    assert (bego.email, bego.birth_date, bego.notes) == ("bego@example.com", date(1990, 12, 31), "Alérgica al látex")
    assert alba.get(one, mapping).status_code == 403  # the token is spent
