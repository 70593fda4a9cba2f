"""A large import in a real browser: the progress page follows the worker without reloading by
hand, then offers the confirmation, then reports the import done."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import Select, WebDriverWait

from crm.models import Client, Role, User
from tests.browser.support import BROWSER, shot
from transfer import jobs
from transfer.import_export_admin import ImportExportAdmin
from transfer.models import Job

pytestmark = BROWSER


def test_a_large_import_shows_its_progress_then_asks_for_confirmation(
    live_server,
    browser,
    transactional_db,
    monkeypatch,
    tmp_path,
    settings,
):
    settings.MEDIA_ROOT = tmp_path
    queued = []
    monkeypatch.setattr(ImportExportAdmin, "import_background_bytes", 100)
    # The test plays the worker, so that it can look at the page before and after each run.
    monkeypatch.setattr(jobs, "_queue", lambda job: queued.append(job.pk))
    User.objects.create_user("ada@salon.test", "a long admin password", name="Ada", role=Role.ADMIN)
    upload = tmp_path / "clients.csv"
    upload.write_text("Email,Name\n" + "".join(f"c{i}@mail.example,Client {i}\n" for i in range(1500)))

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("ada@salon.test")
    browser.find_element(By.NAME, "password").send_keys("a long admin password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "beils-dashboard")
    browser.get(f"{live_server.url}/admin/crm/client/import/")
    Select(browser.find_element(By.NAME, "format")).select_by_visible_text("csv")
    browser.find_element(By.NAME, "import_file").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    bar = browser.find_element(By.ID, "job-bar")
    assert bar.get_attribute("value") == "0"
    assert "Queued" in browser.find_element(By.ID, "job-text").text
    shot(browser, "import-job-queued")

    jobs.job_run(Job.objects.get(pk=queued[0]))  # the dry run
    confirm = WebDriverWait(browser, 15).until(until.element_to_be_clickable((By.ID, "job-confirm")))
    assert "1500 of 1500 rows" in browser.find_element(By.ID, "job-text").text
    assert not Client.all_objects.exists()
    shot(browser, "import-job-checked")

    confirm.click()
    WebDriverWait(browser, 10).until(until.text_to_be_present_in_element((By.ID, "job-text"), "Queued"))
    jobs.job_run(Job.objects.get(pk=queued[1]))  # the import
    WebDriverWait(browser, 15).until(until.text_to_be_present_in_element((By.ID, "job"), "The import is done"))
    assert Client.all_objects.count() == 1500
    shot(browser, "import-job-done")
