"""The few screens of crm that are not a ModelAdmin."""

from django.conf import settings
from django.http import HttpResponseBadRequest
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language


@require_POST
def set_language(request):
    """Switches the interface language: remembered on the signed-in user's account (so it follows
    them to any computer) and in the language cookie (for the sign-in page)."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES) or not translation.check_for_language(language):
        return HttpResponseBadRequest("Unknown language")
    if request.user.is_authenticated and request.user.language != language:
        request.user.language = language
        request.user.save(update_fields=["language", "updated_at"])
    return django_set_language(request)
