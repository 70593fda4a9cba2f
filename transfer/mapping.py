"""Which column of someone else's file holds what Beils calls a client's e-mail, a sale's total…

A *target* is one Beils meaning (``email``) with the spellings other files use for it, in English
and Spanish (``E-mail``, ``Correo electrónico``, ``Email address``). :func:`guess_mapping` reads a
file's headers and proposes a target per column; a person corrects the guess with dropdowns and
Beils remembers the result per source (:class:`~transfer.models.SavedMapping`), so that the next
file from the same place maps itself.

Headers are compared :func:`normalised`: without accents, case, punctuation or repeated spaces, so
``"Teléfono móvil"``, ``"TELEFONO_MOVIL"`` and ``"telefono movil"`` are one header.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.functional import Promise

#: The dropdown's value for "this column is not imported".
IGNORE = ""


@dataclass(frozen=True)
class Target:
    """One Beils meaning a column can carry."""

    name: str
    label: Promise | str
    synonyms: tuple[str, ...] = ()
    required: bool = False
    #: How the value is read: "text", "email", "decimal", "date", "datetime", "integer".
    kind: str = "text"
    spellings: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        names = {self.name, self.name.replace("_", " "), str(self.label), *self.synonyms}
        object.__setattr__(self, "spellings", frozenset(normalised(n) for n in names))


def normalised(header) -> str:
    """``"Teléfono  Móvil_1"`` → ``"telefono movil 1"``."""
    text = unicodedata.normalize("NFKD", str(header or "")).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


def guess_mapping(headers: Sequence[str], targets: Sequence[Target]) -> dict[str, str]:
    """Each header → the name of the target it most likely holds, or :data:`IGNORE`.

    A header that is one of a target's spellings wins it outright; otherwise a header whose words
    contain all of one spelling's words (``"Client e-mail address"`` ⊇ ``"email"`` after
    normalising) takes the target with the longest such spelling. Each target goes to one column
    at most: the first, in the file's order, that claims it."""
    taken: set[str] = set()
    guess = dict.fromkeys(headers, IGNORE)
    for header in headers:
        exact = [t for t in targets if normalised(header) in t.spellings and t.name not in taken]
        if exact:
            guess[header] = exact[0].name
            taken.add(exact[0].name)
    for header in headers:
        if guess[header]:
            continue
        words = set(normalised(header).split())
        best, best_length = None, 0
        for target in targets:
            if target.name in taken:
                continue
            for spelling in target.spellings:
                needed = set(spelling.split())
                if needed and needed <= words and len(spelling) > best_length:
                    best, best_length = target, len(spelling)
        if best is not None:
            guess[header] = best.name
            taken.add(best.name)
    return guess


def missing_required(mapping: dict[str, str], targets: Iterable[Target]) -> list[Target]:
    """The required targets no column is mapped to."""
    chosen = set(mapping.values())
    return [t for t in targets if t.required and t.name not in chosen]


def mapped_row(row: dict, mapping: dict[str, str]) -> dict[str, object]:
    """One source row as ``{target name: cell}``; ignored columns are left out."""
    return {name: row.get(header) for header, name in mapping.items() if name}


# --- Remembered per source ------------------------------------------------------------------


def remembered_mapping(
    *, source: str, resource: str, headers: Sequence[str], targets: Sequence[Target]
) -> dict[str, str]:
    """The mapping for ``headers``: what was chosen for this source before where a header was
    seen, the guess for the others."""
    from transfer.models import SavedMapping

    saved = SavedMapping.objects.filter(source=normalised(source), resource=resource).first()
    known = saved.columns if saved else {}
    valid = {t.name for t in targets}
    guess = guess_mapping(headers, targets)
    chosen = {
        h: known[normalised(h)] for h in headers if normalised(h) in known and known[normalised(h)] in valid | {IGNORE}
    }
    used = {name for name in chosen.values() if name}
    for header in headers:
        if header not in chosen:
            chosen[header] = guess[header] if guess[header] not in used else IGNORE
    return {h: chosen[h] for h in headers}


def remember_mapping(*, source: str, resource: str, mapping: dict[str, str], actor=None):
    """Keep ``mapping`` for the next file from ``source``, beside what was kept for headers this
    file does not have."""
    from transfer.models import SavedMapping

    with transaction.atomic():
        saved, _created = SavedMapping.objects.select_for_update().get_or_create(
            source=normalised(source), resource=resource, defaults={"columns": {}}
        )
        saved.columns = {**saved.columns, **{normalised(h): name for h, name in mapping.items()}}
        saved.updated_by = actor if getattr(actor, "pk", None) else None
        saved.save()
    return saved
