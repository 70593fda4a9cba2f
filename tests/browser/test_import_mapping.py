"""A receptionist's own spreadsheet, imported in a real browser: Spanish headers, ";", dates
written dd/mm/yyyy and prices written 12,50 go through the column-mapping step, where the person
corrects a guess, sees the first rows as Beils will store them, and confirms."""

from datetime import date
from decimal import Decimal

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from catalog.models import Product
from crm.models import Client, Role, User
from tests.browser.support import BROWSER, shot, sign_in
from transfer.models import SavedMapping

pytestmark = BROWSER

PASSWORD = "una contraseña larga # y 'rara'"
CLIENTS = (
    "Nombre;Apellidos;Correo electrónico;Teléfono;Fecha de nacimiento;Notas;Móvil\r\n"
    "Begoña;Íñiguez;BEGO@Example.com;91 555 12 12;31/12/1990;Alérgica al látex;600 111 222\r\n"
    "Lucía;Peña;lucia@example.com;;01/02/1985;;611 222 333\r\n"
)
PRODUCTS = "Referencia;Producto;Precio;IVA\r\nCHAMP-1;Champú sólido;12,50;21\r\n"


def column(browser, header: str) -> Select:
    """The dropdown beside the column ``header`` of the file."""
    label = browser.find_element(By.XPATH, f"//table[@class='beils-mapping']//label[normalize-space()='{header}']")
    return Select(browser.find_element(By.ID, label.get_attribute("for")))


def upload(browser, live_server, path, model_path):
    browser.get(f"{live_server.url}/admin/{model_path}/import/")
    browser.find_element(By.NAME, "import_file").send_keys(str(path))
    browser.find_element(By.CSS_SELECTOR, "form input[type=submit]").click()
    browser.find_element(By.ID, "import-mapping")


def test_a_messy_spanish_client_file_is_mapped_corrected_and_imported(live_server, browser, transactional_db, tmp_path):
    User.objects.create_user("alba@salon.test", PASSWORD, name="Alba", role=Role.ADMIN, language="es")
    path = tmp_path / "clientes de recepción.csv"
    path.write_bytes(CLIENTS.encode("cp1252"))  # Excel's "CSV" on a Spanish Windows
    sign_in(browser, live_server, "alba@salon.test", PASSWORD)

    upload(browser, live_server, path, "crm/client")

    assert column(browser, "Correo electrónico").first_selected_option.get_attribute("value") == "Email"
    assert column(browser, "Teléfono").first_selected_option.get_attribute("value") == "Phone"
    assert column(browser, "Móvil").first_selected_option.get_attribute("value") == ""  # the phone was taken
    # The salon wants the mobile: the person corrects two dropdowns.
    column(browser, "Teléfono").select_by_value("")
    column(browser, "Móvil").select_by_value("Phone")
    source = browser.find_element(By.NAME, "source")
    source.clear()
    source.send_keys("Excel de recepción")
    browser.execute_script("document.body.dataset.before = 'yes'")
    browser.find_element(By.NAME, "_preview").click()
    WebDriverWait(browser, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda b: b.execute_script("return document.readyState === 'complete' && !document.body.dataset.before")
    )

    preview = browser.find_element(By.CLASS_NAME, "beils-mapping-preview").text
    assert "31 de diciembre de 1990" in preview and "bego@example.com" in preview and "600 111 222" in preview
    assert "91 555 12 12" not in preview
    shot(browser, "import-mapping")  # docs/screens/import-mapping.png (make screens)

    browser.find_element(By.ID, "mapping-continue").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=confirm]").click()
    browser.find_element(By.ID, "result_list")

    bego = Client.objects.get(email="bego@example.com")
    assert (bego.name, bego.surname, bego.phone) == ("Begoña", "Íñiguez", "600 111 222")
    assert bego.birth_date == date(1990, 12, 31) and bego.notes == "Alérgica al látex"
    assert Client.objects.get(email="lucia@example.com").birth_date == date(1985, 2, 1)
    assert SavedMapping.objects.get(source="excel de recepcion").columns["movil"] == "Phone"


def test_a_product_price_written_12_50_is_previewed_and_stored_to_the_cent(
    live_server, browser, transactional_db, tmp_path
):
    User.objects.create_user("marta@salon.test", PASSWORD, name="Marta", role=Role.MANAGER, language="en")
    path = tmp_path / "productos.csv"
    path.write_text(PRODUCTS, encoding="utf-8-sig")
    sign_in(browser, live_server, "marta@salon.test", PASSWORD)

    upload(browser, live_server, path, "catalog/product")

    assert column(browser, "Precio").first_selected_option.get_attribute("value") == "Price"
    assert "12.50" in browser.find_element(By.CLASS_NAME, "beils-mapping-preview").text
    browser.find_element(By.ID, "mapping-continue").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=confirm]").click()
    browser.find_element(By.ID, "result_list")

    product = Product.objects.get(sku="CHAMP-1")
    assert (product.name, product.price, product.tax_rate) == ("Champú sólido", Decimal("12.50"), Decimal("21"))
