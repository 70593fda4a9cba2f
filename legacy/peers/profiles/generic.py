"""Any CSV or XLSX: the columns are guessed from the headers (Spanish and English) or taken from
the mapping remembered for the file's source; dates day first, as in Spain."""

from django.utils.translation import gettext_lazy as _

from legacy.peers.profiles import Profile

PROFILE = Profile(
    name="generic", label=_("Any CSV or XLSX file (mapping step)"), in_sentence=_("a CSV or XLSX file"), generic=True
)
