"""What an uploaded file is, told from its first bytes rather than from its name or the format
picked beside it: XLSX is a zip archive, JSON starts with ``[`` or ``{``, anything else that is
text is CSV; and a CSV's separator (``,`` or ``;``, as Excel's locale chose), so that what Beils
writes back (the failing rows) reads in the same spreadsheet the same way."""

from beils.lib.formats import CSV

#: How much of a file is read to tell what it is.
HEAD_BYTES = 4096


def head_of(upload) -> bytes:
    """The first bytes of an uploaded file, leaving it at its start."""
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    return head if isinstance(head, bytes) else head.encode("utf-8")


def detect_format(head: bytes) -> str | None:
    """``"xlsx"``, ``"json"`` or ``"csv"`` from the file's first bytes; None when they do not
    say (an empty or binary file: the format picked is then tried, and says what is wrong)."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    text = _text(head)
    if text is None:
        return None
    start = text.lstrip("\ufeff \t\r\n")
    if not start:
        return None
    return "json" if start[0] in "[{" else "csv"


def csv_separator(head: bytes) -> str:
    """The separator of the CSV file that starts with ``head``: ``;`` or ``,``."""
    text = (_text(head) or "").lstrip("\ufeff")
    return CSV.sniff_delimiter(text)


def _text(head: bytes) -> str | None:
    for bom, codec in CSV.BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="ignore")
    if b"\x00" in head:
        return None  # UTF-16 without a mark, or binary: the CSV reader decides which
    # The characters that matter here ([, {, ;, ,) are ASCII in UTF-8 and Windows-1252 alike.
    return head.decode("utf-8", errors="ignore")
