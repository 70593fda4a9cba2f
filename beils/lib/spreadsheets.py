"""Formula injection: a cell a spreadsheet would run as a formula is written with a leading
quote, and the quote is removed again on import, so that export → import gives back exactly
what was stored."""

from django.utils.formats import get_format

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FIRST = frozenset(FORMULA_PREFIXES)


def needs_escape(value: str) -> bool:
    # A value that already starts with ' + a trigger gets a second quote, or the import would
    # strip the one it really has.
    return bool(value) and (value[0] in _FIRST or (value[0] == "'" and value[1:2] != "" and value[1] in _FIRST))


def escape_formula(value):
    """``'=1+1`` for ``=1+1``; other values (and non-strings) unchanged."""
    return "'" + value if isinstance(value, str) and needs_escape(value) else value


def unescape_formula(value):
    if isinstance(value, str) and value[:1] == "'" and value[1:2] != "" and value[1] in (*FORMULA_PREFIXES, "'"):
        return value[1:]
    return value


def csv_separator_for_reader() -> str:
    """``;`` where numbers are written ``12,50`` (Spain), ``,`` elsewhere: the separator a
    spreadsheet in the reader's language expects (Excel's own rule)."""
    return ";" if get_format("DECIMAL_SEPARATOR") == "," else ","
