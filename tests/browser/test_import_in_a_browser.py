"""Importing clients as a Spanish salon does, in a real browser: a file from Excel (";" and accents)
with one bad row, its errors written on the preview, and the failing rows downloaded with the same
separator and row numbers; a template to start from on the same page."""

from selenium.webdriver.common.by import By

from crm.models import Client, Role, User
from tests.browser.support import BROWSER, shot, sign_in

pytestmark = BROWSER

PASSWORD = "una contraseña larga # y 'rara'"
FILE = "Email;Name;Surname\r\nbegona@example.com;Begoña;Íñiguez\r\nno-es-un-email;Mal;Fila\r\n"


def test_an_admin_imports_a_spanish_file_and_sees_the_bad_row_inline(live_server, browser, transactional_db, tmp_path):
    User.objects.create_user("alba@salon.test", PASSWORD, name="Alba", role=Role.ADMIN, language="es")
    upload = tmp_path / "clientes.csv"
    upload.write_bytes(FILE.encode("cp1252"))  # Excel's "CSV" on a Spanish Windows

    sign_in(browser, live_server, "alba@salon.test", PASSWORD)

    browser.get(f"{live_server.url}/admin/crm/client/import/")
    templates = browser.find_element(By.ID, "import-templates")
    assert "CSV" in templates.text
    browser.find_element(By.NAME, "import_file").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "form input[type=submit]").click()

    invalid = browser.find_element(By.ID, "invalid-rows")
    assert "no-es-un-email" in invalid.text and "Email" in invalid.text
    shot(browser, "import-inline-errors")
    assert not Client.objects.exists()  # a file with a bad row writes nothing

    link = browser.find_element(By.ID, "failing-rows").get_attribute("href")
    fetched = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text().then(t => done([r.status, t])));",
        link,
    )
    assert fetched[0] == 200
    lines = fetched[1].lstrip("\ufeff").splitlines()
    assert lines[0].split(";")[2:] == ["Email", "Name", "Surname"]  # ";" in, ";" out
    assert lines[1].split(";")[0] == "2" and "no-es-un-email" in lines[1]
