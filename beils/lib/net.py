"""Where a request came from, behind the reverse proxies the operator declares.

Behind nginx every request reaches Django from the proxy's address; the client's is the one the
proxy appended to ``X-Forwarded-For``. Only the proxies' own entries can be believed: a client
may send any ``X-Forwarded-For`` it likes, and the proxy appends to it. So with
``AXES_PROXY_COUNT=N`` (the proxies in front of Beils, docs/deploy.md) the client is the N-th
address from the right; with none declared, the header is ignored. The login lockout
(``AXES_CLIENT_IP_CALLABLE``) and the audit trail both use this one answer.
"""

from django.conf import settings


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    return forwarded[-proxies] if len(forwarded) >= proxies else remote
