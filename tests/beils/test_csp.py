"""Every page carries a Content-Security-Policy: scripts and styles from our own origin or with the
response's nonce, no plugins, no framing, no foreign base URL."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


def test_admin_pages_carry_a_strict_policy(admin_browser):
    response = admin_browser.get(reverse("admin:index"))
    rules = policy(response)
    assert rules["default-src"] == ["'self'"]
    assert rules["object-src"] == ["'none'"] and rules["frame-ancestors"] == ["'none'"]
    assert rules["base-uri"] == ["'self'"]
    assert "'unsafe-inline'" not in rules["script-src"] and "'unsafe-eval'" not in rules["script-src"]
    assert "'unsafe-inline'" not in rules["style-src"]


def test_the_inline_scripts_of_a_page_carry_the_nonce_of_its_policy(admin_browser):
    response = admin_browser.get(reverse("admin:maintenance_dashboard"))
    nonce = next(s for s in policy(response)["script-src"] if s.startswith("'nonce-"))[7:-1]
    html = response.content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline, "the dashboard has inline scripts"
    assert all(f'nonce="{nonce}"' in attrs or "application/json" in attrs for attrs in inline)
    assert all(f'nonce="{nonce}"' in attrs for attrs in re.findall(r"<style([^>]*)>", html))


def test_each_response_has_a_nonce_of_its_own(admin_browser):
    url = reverse("admin:maintenance_dashboard")
    first, second = (policy(admin_browser.get(url))["script-src"] for _ in range(2))
    assert first != second


def test_the_api_and_the_login_page_carry_the_policy_too(client, staff_user):
    assert "frame-ancestors 'none'" in client.get(reverse("admin:login"))["Content-Security-Policy"]
    assert "default-src 'self'" in client.get("/api/clients")["Content-Security-Policy"]
