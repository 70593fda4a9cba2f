"""Production serving: real gunicorn with DEBUG off serves the admin and, through WhiteNoise, its
static files under hashed names, compressed and cached for a year; hostile URLs get no 5xx."""

import http.client
import re

import pytest

from tests.production import production_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow


def get(server, path: str, **headers) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{server.port}", **headers})
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


def hashed_admin_css(server) -> str:
    page = get(server, "/admin/login/").body.decode()
    match = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert match, "the login page does not link base.css under its hashed name"
    return match.group(1)


def test_the_admin_login_page_answers(production_server):  # noqa: F811
    response = get(production_server, "/admin/login/")

    assert response.status == 200
    assert b'name="username"' in response.body


def test_the_admin_css_is_served_hashed_compressed_and_cached_for_long(production_server):  # noqa: F811
    path = hashed_admin_css(production_server)

    plain = get(production_server, path)
    compressed = get(production_server, path, **{"Accept-Encoding": "gzip"})

    assert plain.status == 200 and b"--header-bg" in plain.body
    max_age = int(re.search(r"max-age=(\d+)", plain.getheader("Cache-Control")).group(1))
    assert max_age >= 365 * 24 * 3600
    assert compressed.status == 200 and compressed.getheader("Content-Encoding") == "gzip"
    assert len(compressed.body) < len(plain.body)
    assert "Accept-Encoding" in plain.getheader("Vary")


@pytest.mark.parametrize(
    "path",
    [
        "/static/../beils/settings.py",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/admin/css/base.css%00.py",
        "/static/admin/css/nothing.css",
        "/admin/%ff%fe",
        "/admin/login/?next=//evil.example/",
        "/admin/crm/client/not-a-number/change/",
        "/api/clients?page=99999999999999999999",
        "/" + "a" * 4000,
        "/%",
    ],
)
def test_hostile_urls_get_no_server_error(production_server, path):  # noqa: F811
    assert get(production_server, path).status < 500


def test_a_host_not_allowed_is_refused_without_a_server_error(production_server):  # noqa: F811
    assert get(production_server, "/admin/login/", Host="evil.example").status == 400
