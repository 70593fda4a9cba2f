"""Undoing a merge of clients: every row back on the client it came from, or said why not."""

import json
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from beils.lib.models import Status
from bookings.models import Booking
from crm.erasure import client_erase
from crm.models import (
    Client,
    ClientMergeRecord,
    Consent,
    ConsentStatus,
    ConsentType,
    CrmError,
    Questionnaire,
    Revoke,
    Role,
    User,
)
from crm.services import client_merge
from crm.unmerge import client_merge_undo, client_merge_undo_preview
from marketing.models import ClientBonus, GiftCard
from sales.models import Cart, Debt
from tests.conftest import _browser_for
from tests.factories import (
    BookingFactory,
    CartFactory,
    ClientBonusFactory,
    ClientFactory,
    ConsentFactory,
    DebtFactory,
    GiftCardFactory,
    QuestionnaireFactory,
    RevokeFactory,
    SignedConsentFactory,
    UserFactory,
)
from tests.helpers import admin_url, changelist_rows

pytestmark = pytest.mark.django_db

#: Every model that points at a client, and how.
RELATED = [
    (Cart, "client"),
    (Booking, "client"),
    (Debt, "client"),
    (Questionnaire, "client"),
    (Revoke, "client"),
    (Consent, "client"),
    (ClientBonus, "client"),
    (GiftCard, "owner"),
]


def _history_of(client):
    return {
        "cart": CartFactory(client=client),
        "booking": BookingFactory(client=client),
        "debt": DebtFactory(client=client),
        "questionnaire": QuestionnaireFactory(client=client),
        "revoke": RevokeFactory(consent=ConsentFactory(client=client, kind=ConsentType.LASER)),
        "bono": ClientBonusFactory(client=client),
        "gift_card": GiftCardFactory(owner=client),
    }


def _ownership(clients) -> dict:
    """{(model, row id): client id} for every row of these clients."""
    ids = [c.pk for c in clients]
    owned = {}
    for model, lookup in RELATED:
        for pk, client_id in model._base_manager.filter(**{f"{lookup}__in": ids}).values_list("pk", lookup):
            owned[(model._meta.label_lower, pk)] = client_id
    return owned


def _merge(survivor, duplicates, actor=None) -> ClientMergeRecord:
    client_merge(survivor=survivor, duplicates=duplicates, actor=actor)
    return ClientMergeRecord.objects.latest("pk")


@pytest.fixture
def pair():
    """Ana (kept, no email) and her duplicate Ana B, each with a full history."""
    survivor = ClientFactory(name="Ana", email=None, phone="600111222")
    duplicate = ClientFactory(name="Ana B", email="ana@mail.example", phone="600111222", notes="Prefers mornings")
    _history_of(survivor), _history_of(duplicate)
    return survivor, duplicate


# --- the round trip -----------------------------------------------------------------------------


def test_undoing_a_merge_puts_every_row_back_on_its_client_and_restores_the_email(pair, admin_user):
    survivor, duplicate = pair
    unsigned = ConsentFactory(client=survivor, kind=ConsentType.DATA_PROTECTION)
    SignedConsentFactory(client=duplicate, kind=ConsentType.DATA_PROTECTION)
    before = _ownership([survivor, duplicate])
    counts = {m: m._base_manager.filter(**{lk: duplicate}).count() for m, lk in RELATED}
    merge = _merge(survivor, [duplicate], admin_user)
    assert Client.all_objects.get(pk=duplicate.pk).email is None
    assert not Consent.objects.filter(pk=unsigned.pk).exists()

    result = client_merge_undo(merge=merge, actor=admin_user)

    assert _ownership([survivor, duplicate]) == before
    assert {m: m._base_manager.filter(**{lk: duplicate}).count() for m, lk in RELATED} == counts
    back = Client.all_objects.get(pk=duplicate.pk)
    assert (back.email, back.status, back.notes) == ("ana@mail.example", Status.ON, "Prefers mornings")
    assert Client.all_objects.get(pk=survivor.pk).email is None
    restored = Consent.objects.get(pk=unsigned.pk)
    assert (restored.client_id, restored.status) == (survivor.pk, ConsentStatus.UNSIGNED)
    # Both had a laser consent too (from their histories): one of the two was replaced as well.
    assert result.unmovable == [] and unsigned.pk in result.consents_restored
    assert len(result.consents_restored) == 2
    assert result.moved_back["sales.cart"] == 1 and result.emails_restored == [duplicate.pk]
    merge.refresh_from_db()
    assert merge.undone_at and merge.undone_by == admin_user and merge.personal == {}
    entry = AuditEntry.objects.get(action="crm.client.merge_undone")
    assert entry.detail["moved_back"]["crm.consent"] == 1 and entry.detail["unmovable"] == []
    assert "ana@mail.example" not in str(entry.detail)


def test_a_replaced_consents_revocation_goes_back_to_it():
    survivor, duplicate = ClientFactory(), ClientFactory()
    SignedConsentFactory(client=survivor, kind=ConsentType.INDIBA, signed_at=timezone.now())
    old = SignedConsentFactory(client=duplicate, kind=ConsentType.INDIBA, signed_at=timezone.now() - timedelta(days=9))
    revocation = old.revoke("No longer", when=timezone.now() - timedelta(days=5))
    merge = _merge(survivor, [duplicate])
    assert not Consent.objects.filter(pk=old.pk).exists()

    client_merge_undo(merge=merge, actor=None)

    restored = Consent.objects.get(pk=old.pk)
    assert (restored.client_id, restored.status) == (duplicate.pk, ConsentStatus.REVOKED)
    revocation.refresh_from_db()
    assert (revocation.client_id, revocation.consent_id) == (duplicate.pk, old.pk)


def test_the_merge_records_ids_not_the_moved_values(pair):
    survivor, duplicate = pair
    cart = Cart.objects.get(client=duplicate)
    merge = _merge(survivor, [duplicate])
    assert merge.moved["sales.cart"] == [[cart.pk, duplicate.pk]]
    assert all(origin == duplicate.pk for pairs in merge.moved.values() for _pk, origin in pairs)
    assert merge.personal["emails"] == {str(duplicate.pk): "ana@mail.example"}
    assert "600111222" not in str(merge.personal) and "Prefers" not in str(merge.clients)


def test_the_preview_writes_nothing(pair):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    after_merge = _ownership([survivor, duplicate])

    preview = client_merge_undo_preview(merge=merge)

    assert preview.moved_back["bookings.booking"] == 1 and preview.emails_restored == [duplicate.pk]
    assert _ownership([survivor, duplicate]) == after_merge
    assert Client.all_objects.get(pk=duplicate.pk).status == Status.OFF
    merge.refresh_from_db()
    assert merge.undone_at is None
    assert not AuditEntry.objects.filter(action="crm.client.merge_undone").exists()


def test_a_field_the_merge_filled_is_emptied_only_while_it_holds_the_merges_value():
    survivor = ClientFactory(email=None, phone=None, city=None)
    duplicate = ClientFactory(email="b@mail.example", phone="600999888", city="Bilbao")
    merge = _merge(survivor, [duplicate])
    Client.all_objects.filter(pk=survivor.pk).update(city="Getxo")

    result = client_merge_undo(merge=merge, actor=None)

    survivor.refresh_from_db()
    assert (survivor.email, survivor.phone, survivor.city) == (None, None, "Getxo")
    assert result.fields_kept == ["city"]
    assert any("city" in line for line in result.notes())


# --- rows that changed since ---------------------------------------------------------------------


def test_a_row_deleted_since_is_explained_and_the_rest_goes_back(pair):
    survivor, duplicate = pair
    questionnaire = Questionnaire.objects.get(client=duplicate)
    merge = _merge(survivor, [duplicate])
    Questionnaire.objects.filter(pk=questionnaire.pk).delete()

    result = client_merge_undo(merge=merge, actor=None)

    assert [(row.model, row.row_id, row.reason) for row in result.unmovable] == [
        ("crm.questionnaire", questionnaire.pk, "deleted")
    ]
    assert "was deleted since the merge" in result.unmovable[0].text()
    assert Cart.objects.filter(client=duplicate).count() == 1
    entry = AuditEntry.objects.get(action="crm.client.merge_undone")
    assert entry.detail["unmovable"][0]["reason"] == "deleted"


def test_a_row_moved_by_a_later_merge_stays_and_names_that_merge(pair):
    survivor, duplicate = pair
    cart = Cart.objects.get(client=duplicate)
    first = _merge(survivor, [duplicate])
    later_survivor = ClientFactory()
    second = _merge(later_survivor, [Client.all_objects.get(pk=survivor.pk)])

    result = client_merge_undo(merge=first, actor=None)

    row = next(r for r in result.unmovable if r.model == "sales.cart")
    assert (row.row_id, row.reason, row.now_client_id, row.later_merge_id) == (
        cart.pk,
        "moved",
        later_survivor.pk,
        second.pk,
    )
    assert f"by merge #{second.pk}: undo that merge first" in row.text()
    assert Cart.objects.get(pk=cart.pk).client_id == later_survivor.pk


def test_an_email_taken_since_stays_empty_and_is_explained(pair):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    Client.all_objects.filter(pk=survivor.pk).update(email="ana.new@mail.example")
    taker = ClientFactory(email="ana@mail.example")

    result = client_merge_undo(merge=merge, actor=None)

    assert Client.all_objects.get(pk=duplicate.pk).email is None
    assert result.emails_not_restored == {duplicate.pk: taker.pk}
    assert f"client #{taker.pk} uses it now" in " ".join(result.notes())
    assert Client.all_objects.get(pk=survivor.pk).email == "ana.new@mail.example"
    assert result.fields_kept == ["email"]


# --- refusals ------------------------------------------------------------------------------------


def test_a_merge_older_than_merge_undo_days_is_refused_with_the_date(pair, settings):
    settings.MERGE_UNDO_DAYS = 30
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    ClientMergeRecord.objects.filter(pk=merge.pk).update(merged_at=timezone.now() - timedelta(days=31))
    merge.refresh_from_db()

    with pytest.raises(CrmError, match="can be undone for 30 days; this one could be undone until"):
        client_merge_undo(merge=merge, actor=None)
    assert Cart.objects.filter(client=duplicate).count() == 0


def test_an_undone_merge_cannot_be_undone_twice(pair):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    client_merge_undo(merge=merge, actor=None)
    with pytest.raises(CrmError, match="already undone"):
        client_merge_undo(merge=merge, actor=None)
    assert AuditEntry.objects.filter(action="crm.client.merge_undone").count() == 1


@pytest.mark.parametrize("who", ["manager_user", "staff_user", "outsider"])
def test_only_an_admin_may_undo(pair, who, request):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    with pytest.raises(CrmError, match="Only an ADMIN"):
        client_merge_undo(merge=merge, actor=request.getfixturevalue(who))
    assert Cart.objects.filter(client=duplicate).count() == 0


@pytest.mark.parametrize("erased", ["survivor", "duplicate"])
def test_erasing_either_client_clears_the_record_and_refuses_the_undo(pair, erased, admin_user):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    client_erase(client=survivor if erased == "survivor" else duplicate, actor=admin_user)

    merge.refresh_from_db()
    assert merge.personal == {} and merge.forgotten_at is not None
    with pytest.raises(CrmError, match="erased"):
        client_merge_undo(merge=merge, actor=admin_user)
    with pytest.raises(CrmError, match="erased"):
        client_merge_undo_preview(merge=merge)


# --- the admin -----------------------------------------------------------------------------------


def _undo_url(merge_id) -> str:
    return reverse("admin:crm_clientmerge_undo", args=[merge_id])


def test_the_admin_previews_the_undo_then_undoes_it_on_post(pair, admin_browser):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    Questionnaire.objects.filter(client=survivor, pk__in=[p for p, _c in merge.moved["crm.questionnaire"]]).delete()

    page = admin_browser.get(_undo_url(merge.pk))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Sales: 1" in html and "was deleted since the merge" in html
    assert Cart.objects.filter(client=duplicate).count() == 0  # the preview moved nothing

    response = admin_browser.post(_undo_url(merge.pk), {"confirm": "yes"})

    assert response.status_code == 302
    assert Cart.objects.filter(client=duplicate).count() == 1
    assert Client.all_objects.get(pk=duplicate.pk).status == Status.ON
    followed = admin_browser.get(response.url)
    assert "was deleted since the merge" in followed.content.decode()


def test_the_change_page_offers_the_undo_to_admins_only(pair, admin_browser, manager_browser):
    merge = _merge(*pair[:1], [pair[1]])
    url = admin_url(ClientMergeRecord, "change", merge.pk)
    assert _undo_url(merge.pk) in admin_browser.get(url).content.decode()
    page = manager_browser.get(url)
    assert page.status_code == 200 and _undo_url(merge.pk) not in page.content.decode()


@pytest.mark.parametrize("who", ["manager_user", "staff_user"])
def test_other_roles_cannot_undo_in_the_admin(pair, who, request):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    browser = _browser_for(request.getfixturevalue(who))

    assert browser.get(_undo_url(merge.pk)).status_code == 403
    assert browser.post(_undo_url(merge.pk), {"confirm": "yes"}).status_code == 403
    assert Cart.objects.filter(client=duplicate).count() == 0
    changelist = browser.get(admin_url(ClientMergeRecord, "changelist")).status_code
    assert changelist == (200 if who == "manager_user" else 403)


def test_a_deactivated_admin_and_a_visitor_cannot_undo(pair, anonymous_browser, admin_user):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    former = UserFactory(role=Role.ADMIN)
    browser = _browser_for(former)
    User.all_objects.filter(pk=former.pk).update(status=Status.OFF, is_active=False)

    for visitor in (browser, anonymous_browser):
        response = visitor.post(_undo_url(merge.pk), {"confirm": "yes"})
        assert response.status_code == 302 and "/login/" in response.url
    assert Cart.objects.filter(client=duplicate).count() == 0


@pytest.mark.parametrize("object_id", ["999999", "abc", "1%20OR%201"])
def test_a_bad_merge_id_is_a_404(object_id, admin_browser):
    assert admin_browser.get(f"/admin/crm/clientmergerecord/{object_id}/undo/").status_code == 404


def test_a_refused_undo_is_a_message_not_an_error(pair, admin_browser):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    ClientMergeRecord.objects.filter(pk=merge.pk).update(merged_at=timezone.now() - timedelta(days=400))

    response = admin_browser.post(_undo_url(merge.pk), {"confirm": "yes"}, follow=True)

    assert response.status_code == 200
    assert "could be undone until" in response.content.decode()
    assert Cart.objects.filter(client=duplicate).count() == 0


def test_the_merges_list_shows_who_merged_and_whether_it_can_be_undone(pair, admin_user, admin_browser):
    survivor, duplicate = pair
    _merge(survivor, [duplicate], admin_user)
    page = admin_browser.get(admin_url(ClientMergeRecord, "changelist"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Ana" in html and f"#{duplicate.pk}" in html and "Can be undone until" in html


# --- the command ---------------------------------------------------------------------------------


def _command(*args) -> str:
    out = StringIO()
    call_command("unmerge_clients", *args, stdout=out)
    return out.getvalue()


def test_the_command_dry_run_shows_the_plan_and_writes_nothing(pair):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])

    shown = json.loads(_command(str(merge.pk), "--dry-run", "--json"))

    assert shown["undone"] is False and shown["moved_back"]["sales.cart"] == 1
    assert Cart.objects.filter(client=duplicate).count() == 0
    assert "can be undone" in _command("--list")


def test_the_command_undoes_with_noinput_and_names_an_admin(pair, admin_user):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])

    out = _command(str(merge.pk), "--noinput", "--actor", admin_user.email)

    assert f"Undid merge #{merge.pk}." in out
    assert Cart.objects.filter(client=duplicate).count() == 1
    assert AuditEntry.objects.get(action="crm.client.merge_undone").actor == admin_user


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999", "--noinput"], "There is no merge #999999"),
        (["abc", "--noinput"], "There is no merge #abc"),
        ([], "Name the merge"),
        (["{merge}", "--noinput", "--actor", "marta@salon.example"], "not an active ADMIN"),
        (["{merge}", "--noinput", "--actor", "{merge}"], "not an active ADMIN"),
    ],
)
def test_the_command_refuses_with_a_non_zero_exit(pair, manager_user, args, message):
    merge = _merge(*pair[:1], [pair[1]])
    with pytest.raises(CommandError, match=message):
        _command(*[arg.format(merge=merge.pk) for arg in args])
    assert Cart.objects.filter(client=pair[1]).count() == 0


def test_the_command_says_why_an_undo_is_refused(pair):
    merge = _merge(*pair[:1], [pair[1]])
    _command(str(merge.pk), "--noinput")
    with pytest.raises(CommandError, match="already undone"):
        _command(str(merge.pk), "--noinput")


def test_a_merged_client_deleted_since_refuses_the_undo(pair):
    survivor = pair[0]
    lonely = ClientFactory(email=None)
    merge = _merge(survivor, [lonely])
    Client.all_objects.filter(pk=lonely.pk).delete()  # no history left: the admin may delete it
    with pytest.raises(CrmError, match=f"Client #{lonely.pk} was deleted after the merge"):
        client_merge_undo(merge=merge, actor=None)


def test_the_client_page_links_to_the_merges_it_was_part_of(pair, admin_browser, staff_browser):
    survivor, duplicate = pair
    merge = _merge(survivor, [duplicate])
    link = admin_url(ClientMergeRecord, "change", merge.pk)
    for client in (survivor, duplicate):
        assert link in admin_browser.get(admin_url(Client, "change", client.pk)).content.decode()
    assert link not in staff_browser.get(admin_url(Client, "change", survivor.pk)).content.decode()


# --- two undos at once ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "mysql", reason="row locks: MariaDB only")
def test_two_undos_of_one_merge_at_once_undo_it_once():
    survivor, duplicate = ClientFactory(email=None), ClientFactory(email="b@mail.example")
    CartFactory(client=duplicate)
    merge = _merge(survivor, [duplicate])
    barrier, outcomes = threading.Barrier(2), [None, None]

    def undo(n):
        try:
            stale = ClientMergeRecord.objects.get(pk=merge.pk)
            barrier.wait(timeout=10)
            client_merge_undo(merge=stale, actor=None)
            outcomes[n] = "undone"
        except CrmError as error:
            outcomes[n] = str(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=undo, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(o == "undone" for o in outcomes) == [False, True], outcomes
    assert any("already undone" in o for o in outcomes if o != "undone")
    assert AuditEntry.objects.filter(action="crm.client.merge_undone").count() == 1
    assert Client.all_objects.get(pk=duplicate.pk).email == "b@mail.example"


@pytest.mark.parametrize(
    ("state", "expected"), [("open", {"recent"}), ("undone", {"undone"}), ("closed", {"old", "erased"}), ("", None)]
)
def test_the_merges_list_filters_by_state(state, expected, admin_browser, admin_user):
    merges = {}
    for name in ("recent", "undone", "old", "erased"):
        survivor, duplicate = ClientFactory(), ClientFactory()
        CartFactory(client=duplicate)
        merges[name] = _merge(survivor, [duplicate])
    client_merge_undo(merge=merges["undone"], actor=None)
    ClientMergeRecord.objects.filter(pk=merges["old"].pk).update(merged_at=timezone.now() - timedelta(days=99))
    client_erase(client=Client.all_objects.get(pk=merges["erased"].survivor_id), actor=admin_user)

    response = admin_browser.get(admin_url(ClientMergeRecord, "changelist"), {"state": state} if state else {})

    shown = {name for name, merge in merges.items() if merge in changelist_rows(response)}
    assert shown == (expected or set(merges))


def test_merges_past_their_undo_window_keep_ids_only(pair, settings):
    settings.MERGE_UNDO_DAYS = 30
    survivor, duplicate = pair
    old = _merge(survivor, [duplicate])
    ClientMergeRecord.objects.filter(pk=old.pk).update(merged_at=timezone.now() - timedelta(days=31))

    recent = _merge(ClientFactory(email=None), [ClientFactory(email="c@mail.example")])

    old.refresh_from_db(), recent.refresh_from_db()
    assert old.personal == {} and old.forgotten_at is not None and old.moved
    assert recent.personal["emails"] and recent.forgotten_at is None


def test_the_nightly_cleanup_clears_merges_past_their_undo_window_without_another_merge(pair, settings):
    from maintenance.tasks import cleanup

    settings.MERGE_UNDO_DAYS = 30
    survivor, duplicate = pair
    old = _merge(survivor, [duplicate])
    recent = _merge(ClientFactory(email=None), [ClientFactory(email="d@mail.example")])
    ClientMergeRecord.objects.filter(pk=old.pk).update(merged_at=timezone.now() - timedelta(days=31))

    cleanup.apply()

    old.refresh_from_db(), recent.refresh_from_db()
    assert old.personal == {} and old.forgotten_at is not None and old.moved
    assert recent.personal["emails"] and recent.forgotten_at is None


def test_a_consent_whose_client_signed_that_type_again_stays_and_the_replaced_one_is_not_recreated():
    survivor, duplicate = ClientFactory(), ClientFactory()
    unsigned = ConsentFactory(client=survivor, kind=ConsentType.DATA_PROTECTION)
    signed = SignedConsentFactory(client=duplicate, kind=ConsentType.DATA_PROTECTION)
    merge = _merge(survivor, [duplicate])
    newer = SignedConsentFactory(client=duplicate, kind=ConsentType.DATA_PROTECTION)

    result = client_merge_undo(merge=merge, actor=None)

    assert [(r.model, r.row_id, r.reason) for r in result.unmovable] == [("crm.consent", signed.pk, "consent_taken")]
    assert result.consents_not_restored == [unsigned.pk]
    assert Consent.objects.get(pk=signed.pk).client_id == survivor.pk
    assert Consent.objects.get(pk=newer.pk).client_id == duplicate.pk
    assert not Consent.objects.filter(pk=unsigned.pk).exists()
    assert "has another consent of that type since" in " ".join(result.notes())


def test_a_merge_of_three_clients_undone_gives_each_its_own_rows_back(admin_user):
    survivor, one, two = ClientFactory(email=None), ClientFactory(email="one@mail.example"), ClientFactory()
    for client in (survivor, one, two):
        _history_of(client)
    CartFactory(client=two)
    before = _ownership([survivor, one, two])
    merge = _merge(survivor, [one, two], admin_user)
    assert set(_ownership([survivor, one, two]).values()) == {survivor.pk}

    client_merge_undo(merge=merge, actor=admin_user)

    assert _ownership([survivor, one, two]) == before
    assert [Client.all_objects.get(pk=c.pk).status for c in (one, two)] == [Status.ON, Status.ON]
    assert Client.all_objects.get(pk=one.pk).email == "one@mail.example"
