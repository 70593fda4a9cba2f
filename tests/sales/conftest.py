import pytest
from django.core.cache import cache
from django.utils import timezone

from sales.reports import report_cache_key


@pytest.fixture(autouse=True)
def _no_cached_sales_report():
    """The cache outlives a test (Redis in CI): a report cached by one test is not another's."""
    cache.delete(report_cache_key(timezone.localdate()))
