import pytest
from django.conf import settings
from django.utils import translation


@pytest.fixture(autouse=True)
def _the_default_language_after_each_test():
    """A request as a Spanish user leaves Spanish active in this thread (the middleware activates
    the reader's language and nothing switches it back), and the next test calling a service
    directly would read its refusals in Spanish."""
    yield
    translation.activate(settings.LANGUAGE_CODE)
