"""Which language a request is served in."""

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.utils import translation


def request_language(request) -> str:
    """The signed-in user's choice, else the language cookie (the sign-in page, before anyone is
    known), else the salon's ``LANGUAGE_CODE``; always one of ``LANGUAGES``."""
    user = getattr(request, "user", None)
    for candidate in (
        getattr(user, "language", "") if user is not None and user.is_authenticated else "",
        request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""),
        settings.LANGUAGE_CODE,
    ):
        try:
            return translation.get_supported_language_variant(candidate)
        except LookupError:
            continue
    return settings.LANGUAGES[0][0]


class UserLanguageMiddleware:
    """Activates :func:`request_language` for the request, and says which in Content-Language.
    Unlike Django's LocaleMiddleware it ignores the browser's Accept-Language on purpose."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = request_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        # The language now: an API token may have named a user with another one (beils.lib.api).
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


@receiver(request_finished, dispatch_uid="crm.middleware.back_to_the_salons_language")
def back_to_the_salons_language(sender, **kwargs) -> None:
    """Once a response is sent (a streamed one after the middleware has returned), the thread
    forgets the user's language: whatever runs in it next (another request, a test, a command
    in the same process) starts from the salon's ``LANGUAGE_CODE``, not this user's choice."""
    translation.deactivate()
