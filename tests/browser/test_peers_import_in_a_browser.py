"""A messy Spanish CSV (semicolons, dd/mm/yyyy, 12,50, Windows accents) through the admin's
"Import from another salon system" in a real browser, as a Spanish salon's admin sees it (in
Spanish, amounts with a decimal comma): the columns guessed, one fixed by hand with
its dropdown, the first rows as they will be stored, the dry run, then the import."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import Select, WebDriverWait

from crm.models import Client, Role, User
from sales.models import Cart
from tests.browser.support import BROWSER, shot, sign_in

pytestmark = BROWSER

MESSY = (
    "Fecha;Clienta;Concepto;Importe;Col. rara\r\n"
    "31/12/2024 10:30;Pilar Sanz;Corte y peinado;12,50;pilar@example.com\r\n"
    "02/01/2025 17:00;Pilar Sanz;Tinte raíz;1.234,50;pilar@example.com\r\n"
)


def test_a_messy_spanish_csv_goes_through_the_mapping_step(live_server, browser, transactional_db, tmp_path):
    User.objects.create_user("ada@salon.test", "a long admin password", name="Ada", role=Role.ADMIN, language="es")
    upload = tmp_path / "ventas pilar.csv"
    upload.write_bytes(MESSY.encode("cp1252"))
    sign_in(browser, live_server, "ada@salon.test", "a long admin password")

    browser.get(f"{live_server.url}/admin/legacy/legacyimportrun/peers/")
    Select(browser.find_element(By.NAME, "profile")).select_by_value("generic")
    Select(browser.find_element(By.NAME, "entity")).select_by_value("sales")
    browser.find_element(By.NAME, "files").send_keys(str(upload))
    browser.find_element(By.NAME, "source").send_keys("Excel de Pilar")
    form = browser.find_element(By.ID, "legacy-peers-form")
    browser.find_element(By.CSS_SELECTOR, "#legacy-peers-form input[type=submit]").click()
    WebDriverWait(browser, 15).until(until.staleness_of(form))

    browser.find_element(By.ID, "legacy-peers-map")
    assert Select(browser.find_element(By.NAME, "f0-column_3")).first_selected_option.get_attribute("value") == "total"
    Select(browser.find_element(By.NAME, "f0-column_4")).select_by_value("client_email")
    preview = browser.find_element(By.CLASS_NAME, "beils-mapping-preview").text
    assert "12,50" in preview and "1234,50" in preview, preview
    shot(browser, "peers-mapping-step")
    mapping = browser.find_element(By.ID, "legacy-peers-map")
    browser.find_element(By.NAME, "confirm").click()
    WebDriverWait(browser, 15).until(until.staleness_of(mapping))

    dry_run = browser.find_element(By.ID, "legacy-peers-report")
    assert "no se ha guardado nada" in dry_run.text and "cuadra" in dry_run.text, dry_run.text
    assert not Cart.objects.exists()
    browser.find_element(By.NAME, "import").click()
    WebDriverWait(browser, 15).until(until.staleness_of(dry_run))
    report = browser.find_element(By.ID, "legacy-peers-report").text
    assert "Todos los totales cuadran al céntimo." in report
    # In words, in her language: where each column went, and what the import came from.
    assert (
        "Importe → total de la línea (IVA incl.)" in report and "Importación desde un archivo CSV o XLSX" in report
    ), report
    assert Cart.objects.count() == 2
    assert str(sum(c.total for c in Cart.objects.all())) == "1247.00"
    assert not Client.objects.exists() or Client.objects.filter(email="pilar@example.com").exists()
    shot(browser, "peers-imported")
