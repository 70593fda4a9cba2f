"""Timely's exports."""

from django.utils.translation import gettext_lazy as _

from legacy.peers.profiles import Profile

PROFILE = Profile(name="timely", label=_("Timely"))
