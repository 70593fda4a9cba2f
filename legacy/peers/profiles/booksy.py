"""Booksy: no self-service export of clients, appointments, services or sales is documented
(reports are downloaded as workbooks with no published columns, and migration tools ask Booksy's
support for the client list). Every Booksy file goes through the mapping step: the common English
and Spanish spellings are guessed, ``--map`` fixes the rest, and a mapping remembered for the
source (``--source booksy``) is reused.

Source: https://support.booksy.com/hc/en-us (reports; no export columns).
"""

from django.utils.translation import gettext_lazy as _

from legacy.peers.profiles import Profile

PROFILE = Profile(name="booksy", label=_("Booksy"), source_url="https://support.booksy.com/hc/en-us", date_order="dmy")
