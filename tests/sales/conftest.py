import uuid

import pytest
from django.core.cache import cache
from django.utils import timezone

from sales import reports
from sales.reports import report_cache_key


@pytest.fixture(autouse=True)
def _no_cached_sales_report(monkeypatch):
    """The cache outlives a test (Redis in CI): a report cached by one test is not another's,
    whatever its period (each test gets keys of its own)."""
    cache.delete(report_cache_key(timezone.localdate()))
    token = uuid.uuid4().hex
    monkeypatch.setattr(
        reports, "report_cache_key", lambda *args, **kwargs: f"{report_cache_key(*args, **kwargs)}:{token}"
    )
