"""The maintenance dashboard in a real browser: an admin opens it from the admin index, starts
a backup, watches its progress bar move without reloading, and sees the new backup listed."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from backups.models import Backup, BackupStatus
from crm.models import Role, User
from maintenance import operations
from maintenance.models import Operation, OperationState
from tests.browser.support import BROWSER, shot

pytestmark = BROWSER


def test_an_admin_backs_up_from_the_dashboard_and_follows_its_progress(
    live_server, browser, transactional_db, monkeypatch
):
    queued = []
    # The test plays the Celery worker, so that it can look at the page at each step.
    monkeypatch.setattr(operations, "_queue", lambda operation: queued.append(operation.pk))
    User.objects.create_user("ada@salon.test", "a long admin password", name="Ada", role=Role.ADMIN)

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("ada@salon.test")
    browser.find_element(By.NAME, "password").send_keys("a long admin password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "maintenance-dashboard-link").click()

    browser.find_element(By.ID, "maintenance-dashboard")
    assert browser.execute_script("return typeof Chart") == "function"  # Chart.js from our static files
    assert browser.execute_script("return Chart.getChart('chart-timeline') !== undefined")
    assert browser.execute_script("return Chart.getChart('chart-tables') !== undefined")
    assert "No backup in the last 30 days" in browser.find_element(By.ID, "recent-backups").text
    shot(browser, "dashboard-before-backup")

    browser.find_element(By.ID, "start-backup").click()
    WebDriverWait(browser, 10).until(until.presence_of_element_located((By.CSS_SELECTOR, "tr.operation")))
    operation = Operation.objects.get(pk=queued[0])
    row = browser.find_element(By.ID, f"op-{operation.pk}")
    assert "Queued" in row.text and row.find_element(By.CSS_SELECTOR, ".op-bar").get_attribute("value") == "0"
    browser.execute_script("window.notReloaded = true")

    # The worker reports progress: the bar follows without a reload.
    Operation.objects.filter(pk=operation.pk).update(
        state=OperationState.RUNNING, percent=45, message="2,048 KiB written"
    )
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.CSS_SELECTOR, f"#op-{operation.pk} .op-bar").get_attribute("value") == "45"
    )
    assert "2,048 KiB written" in browser.find_element(By.ID, f"op-{operation.pk}").text
    assert browser.execute_script("return window.notReloaded === true")
    shot(browser, "dashboard-backup-in-progress")

    operations.operation_run(Operation.objects.get(pk=operation.pk))  # the real backup
    backup = Backup.objects.get()
    assert backup.status == BackupStatus.SUCCESS
    WebDriverWait(browser, 15).until(until.text_to_be_present_in_element((By.ID, "recent-backups"), backup.file_name))
    row = browser.find_element(By.ID, f"op-{operation.pk}")
    assert row.find_element(By.CSS_SELECTOR, ".op-bar").get_attribute("value") == "100"
    assert "Done" in row.text and "written and verified" in row.text
    assert backup.file_name in browser.find_element(By.ID, "rpo").text
    shot(browser, "dashboard-backup-done")
    browser.execute_script("document.getElementById('backup-timeline').scrollIntoView()")
    shot(browser, "dashboard-charts-and-jobs")
