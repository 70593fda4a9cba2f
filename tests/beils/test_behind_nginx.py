"""The production shape end to end: nginx with deploy/nginx/beils.conf as printed (only its
addresses and certificate paths changed for loopback) in front of gunicorn with DEBUG off. HTTP
is sent to HTTPS, the admin signs in over HTTPS with secure cookies and CSRF through the proxy,
the address Beils records is the proxy's view of the client (a forged X-Forwarded-For changes
nothing), and an upload over the import limit gets nginx's 413."""

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import requests
from django.test import override_settings
from urllib3.exceptions import InsecureRequestWarning

from audit.models import AuditEntry
from crm.models import Role, User
from tests.helpers import free_port
from tests.production import ROOT, VENV_BIN, _wait_until_listening, process_stop, production_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HOST = "salon.example.org"
PASSWORD = "Contraseña con # y 'comillas'"


def _site_config(text: str, *, http: int, https: int, upstream: int, cert: Path, key: Path) -> str:
    """The printed configuration, moved to loopback ports and a self-signed certificate."""
    text = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", text)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http};")
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    text = re.sub(r"ssl_certificate /\S+;", f"ssl_certificate {cert};", text)
    return re.sub(r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};", text)


@pytest.fixture(scope="module")
def proxied(django_db_setup, tmp_path_factory):
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx-core)")
    base = tmp_path_factory.mktemp("nginx")
    upstream, http, https = free_port(), free_port(), free_port()
    env = production_environment(
        STATIC_ROOT=str(base / "static"), GUNICORN_BIND=f"127.0.0.1:{upstream}", GUNICORN_WORKERS="1",
        ALLOWED_HOSTS=HOST, CSRF_TRUSTED_ORIGINS=f"https://{HOST}:{https}", SECURE_SSL_REDIRECT="true",
        SESSION_COOKIE_SECURE="true", CSRF_COOKIE_SECURE="true", AXES_PROXY_COUNT="1",
    )  # fmt: skip
    collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=180)  # fmt: skip
    assert collected.returncode == 0, collected.stderr
    cert, key = base / "cert.pem", base / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)  # fmt: skip
    site = _site_config((ROOT / "deploy/nginx/beils.conf").read_text(), http=http, https=https, upstream=upstream,
                        cert=cert, key=key)  # fmt: skip
    (base / "beils.conf").write_text(site)
    temp = {name: base / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    (base / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {base / 'nginx.pid'};\nerror_log {base / 'error.log'};\nevents {{}}\n"
        + "http {\n"
        + f"    access_log {base / 'access.log'};\n"
        + "".join(f"    {name}_temp_path {path};\n" for name, path in temp.items() if name != "body")
        + f"    client_body_temp_path {temp['body']};\n"
        + f"    include {base / 'beils.conf'};\n}}\n"
    )
    checked = subprocess.run([NGINX, "-t", "-c", str(base / "nginx.conf")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    log = base / "gunicorn.log"
    with open(log, "wb") as output:
        gunicorn = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py"], cwd=ROOT, env=env,
                                    stdout=output, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    nginx = subprocess.Popen([NGINX, "-c", str(base / "nginx.conf")], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_until_listening(upstream, gunicorn, log)
        _wait_until_listening(https, nginx, base / "error.log")
        yield {"http": http, "https": https}
    finally:
        for process in (nginx, gunicorn):
            process_stop(process)


class Browser(requests.Session):
    """A browser at https://salon.example.org:PORT, which resolves to 127.0.0.1."""

    def __init__(self, ports):
        super().__init__()
        self.port = ports["https"]

    def request(self, method, path, **kwargs):
        headers = {"Host": f"{HOST}:{self.port}", **kwargs.pop("headers", {})}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureRequestWarning)
            # verify=False: the test's self-signed certificate (said here, or a CA bundle from the
            # environment would win over the session's setting).
            return super().request(method, f"https://127.0.0.1:{self.port}{path}", headers=headers, timeout=60,
                                   verify=False, **kwargs)  # fmt: skip


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_plain_http_is_sent_to_https(proxied):
    response = requests.get(f"http://127.0.0.1:{proxied['http']}/admin/", headers={"Host": HOST},
                            allow_redirects=False, timeout=30)  # fmt: skip
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://{HOST}/admin/"


def test_the_admin_signs_in_over_https_through_the_proxy(proxied):
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        User.objects.create_user(email="alba@salon.example", password=PASSWORD, name="Alba", role=Role.ADMIN)
    browser = Browser(proxied)
    page = browser.get("/admin/login/", allow_redirects=False)
    assert page.status_code == 200, page.text[-2000:]  # no redirect loop: Django sees HTTPS
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.text).group(1)
    assert browser.get(css).status_code == 200

    origin = f"https://{HOST}:{browser.port}"
    signed_in = browser.post(
        "/admin/login/?next=/admin/", allow_redirects=False,
        data={"csrfmiddlewaretoken": _csrf(page.text), "username": "alba@salon.example", "password": PASSWORD},
        headers={"Referer": f"{origin}/admin/login/", "Origin": origin, "X-Forwarded-For": "6.6.6.6"},
    )  # fmt: skip
    assert signed_in.status_code == 302, signed_in.text[-2000:]
    assert "Secure" in signed_in.headers["Set-Cookie"] and "HttpOnly" in signed_in.headers["Set-Cookie"]
    assert browser.get("/admin/").status_code == 200
    assert "Strict-Transport-Security" in browser.get("/admin/").headers


def test_a_forged_forwarded_address_does_not_escape_the_lockout(proxied):
    """Each attempt claims another address in X-Forwarded-For; nginx appends the real one, and
    Beils counts that: the fifth wrong password locks the e-mail out, audited from 127.0.0.1."""
    browser = Browser(proxied)
    origin = f"https://{HOST}:{browser.port}"
    for attempt in range(6):
        page = browser.get("/admin/login/")
        browser.post(
            "/admin/login/", allow_redirects=False,
            data={"csrfmiddlewaretoken": _csrf(page.text), "username": "nadie@salon.example", "password": "mal"},
            headers={"Referer": f"{origin}/admin/login/", "Origin": origin, "X-Forwarded-For": f"6.6.6.{attempt}"},
        )  # fmt: skip
    locked = AuditEntry.objects.filter(action="crm.login.locked_out")
    assert set(locked.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_an_upload_over_the_import_limit_is_refused_by_nginx(proxied):
    response = Browser(proxied).post("/admin/crm/client/import/", data=b"x" * (51 * 1024 * 1024),
                                     headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert response.status_code == 413
