"""What the API does with request bodies it cannot use: a 400 with a message, never a 5xx."""

import json

import pytest

from crm.models import Client
from tests.factories import ClientFactory
from tests.helpers import api_as

pytestmark = pytest.mark.django_db


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_a_400_with_the_depth_limit(admin_user, depth):
    response = api_as(admin_user).post("/api/clients", _nested(depth), content_type="application/json")

    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.json()["detail"]
    assert not Client.all_objects.exists()


def test_brackets_inside_strings_do_not_count_as_nesting(admin_user):
    body = json.dumps({"name": "[[[[" * 20, "email": "ana@mail.example", "notes": "{" * 100})

    response = api_as(admin_user).post("/api/clients", body, content_type="application/json")

    assert response.status_code == 201, response.content
    assert Client.all_objects.get().notes == "{" * 100


def test_json_that_is_not_json_is_a_400(admin_user):
    response = api_as(admin_user).post("/api/clients", '{"name": ', content_type="application/json")

    assert response.status_code == 400


@pytest.mark.parametrize("body", [[], [{"confirm": True}], "confirm", 1, None])
def test_erase_with_a_body_that_is_not_an_object_is_a_400(admin_user, body):
    client = ClientFactory()

    response = api_as(admin_user).post(
        f"/api/clients/{client.pk}/erase", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 400
    assert "JSON object" in response.json()["detail"]
    client.refresh_from_db()
    assert client.erased_at is None
