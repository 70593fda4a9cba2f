"""An ADMIN (who reads the admin in Spanish) undoes a merge of two clients in a real browser: the preview says what goes back and
what cannot, and the confirmation puts the sale back on the client it came from."""

from django.utils import translation
from django.utils.translation import gettext, ngettext
from selenium.webdriver.common.by import By

from crm.models import Client, ClientMergeRecord, Role, User
from crm.services import client_merge
from sales.models import Cart
from tests.browser.support import BROWSER, csp_violations, shot, sign_in
from tests.factories import CartFactory, ClientFactory, QuestionnaireFactory

pytestmark = BROWSER

PASSWORD = "una contraseña larga # y 'rara'"


def test_an_admin_previews_and_undoes_a_merge(live_server, browser, transactional_db):
    User.objects.create_user("alba@salon.test", PASSWORD, name="Alba", role=Role.ADMIN, language="es")
    kept = ClientFactory(name="Begoña", email=None)
    duplicate = ClientFactory(name="Bego", email="bego@mail.example")
    cart = CartFactory(client=duplicate)
    questionnaire = QuestionnaireFactory(client=duplicate)
    client_merge(survivor=kept, duplicates=[duplicate], actor=None)
    questionnaire.delete()
    merge = ClientMergeRecord.objects.get()

    sign_in(browser, live_server, "alba@salon.test", PASSWORD)
    browser.get(f"{live_server.url}/admin/crm/clientmergerecord/")
    assert _es("Can be undone until %(date)s").split("%")[0] in browser.find_element(By.ID, "result_list").text
    shot(browser, "client-merges")
    browser.get(f"{live_server.url}/admin/crm/clientmergerecord/{merge.pk}/change/")
    shot(browser, "client-merge")
    browser.find_element(By.CSS_SELECTOR, f"a[href$='/clientmergerecord/{merge.pk}/undo/']").click()
    page = browser.find_element(By.ID, "content").text
    assert _es("What cannot go back, and why") in page
    assert _es("%(what)s was deleted since the merge.").split("%(what)s")[1] in page
    shot(browser, "undo-merge-preview")
    browser.find_element(By.CSS_SELECTOR, "button[name=confirm]").click()

    messages = browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    with translation.override("es"):
        done = ngettext("Merge #%(id)s undone: %(rows)d record moved back to its client.",
                        "Merge #%(id)s undone: %(rows)d records moved back to their clients.", 1)  # fmt: skip
    assert done.split("%(rows)d")[0] % {"id": merge.pk} in messages
    assert Cart.objects.get(pk=cart.pk).client_id == duplicate.pk
    assert Client.all_objects.get(pk=duplicate.pk).email == "bego@mail.example"
    assert csp_violations(browser) == []


def _es(message: str) -> str:
    """What a Spanish-speaking admin reads for ``message``."""
    with translation.override("es"):
        return gettext(message)
