"""File formats for import/export: CSV as Excel writes it, JSON and XLSX.

The library's CSV reads comma-separated UTF-8 without a byte-order mark only. Excel in a Spanish
locale saves "CSV UTF-8" with a BOM, semicolons and CRLF line ends; these classes read all of that.
They read the file as bytes so that the audit entry carries the SHA-256 of the file exactly as
uploaded (``manage.py import … --format beils.lib.formats.CSV`` reads it the same way).

The temporary file between the admin's dry run and its confirmation must then be stored in bytes
(``MediaStorage`` or ``CacheStorage``, see ``IMPORT_EXPORT_TMP_STORAGE_CLASS``).
"""

import codecs
import csv
import hashlib
import io
import json
import re
import zipfile

import tablib
from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from import_export.formats import base_formats

MB = 1024 * 1024


def max_import_bytes() -> int:
    return settings.IMPORT_MAX_MB * MB


def file_too_large_message(size: int) -> str:
    return _(
        "The file is %(size).1f MB; imports take files up to %(limit)s MB (IMPORT_MAX_MB). Split it into smaller files."
    ) % {"size": size / MB, "limit": settings.IMPORT_MAX_MB}


def too_many_rows_message() -> str:
    return _(
        "The file has more than %(limit)s rows; imports take up to %(limit)s rows (IMPORT_MAX_ROWS). "
        "Split it into smaller files. Nothing was written."
    ) % {"limit": settings.IMPORT_MAX_ROWS}


class UnreadableFileError(CommandError, ValueError):
    """The file is not in the chosen format. A ``CommandError`` so that ``manage.py import``
    prints the message and exits 1 instead of a traceback; the admin shows it as a form error."""


def refuse_rows_beyond_limit(count: int) -> None:
    if count > settings.IMPORT_MAX_ROWS:
        raise UnreadableFileError(too_many_rows_message())


def file_digest(fh) -> tuple[str, bool]:
    """The SHA-256 of the file open in ``fh`` (binary, seekable), read a megabyte at a time, and
    whether it holds a zero byte; a file over ``IMPORT_MAX_BYTES`` is refused. ``fh`` is left at
    its start."""
    sha, size, nul = hashlib.sha256(), 0, False
    fh.seek(0)
    while chunk := fh.read(MB):
        sha.update(chunk)
        size += len(chunk)
        nul = nul or b"\x00" in chunk
    if size > max_import_bytes():
        raise UnreadableFileError(file_too_large_message(size))
    fh.seek(0)
    return sha.hexdigest(), nul


class SourceHashMixin:
    """Remember the SHA-256 of the raw file on the dataset it becomes."""

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        raw = in_stream.encode("utf-8") if isinstance(in_stream, str) else bytes(in_stream)
        if len(raw) > max_import_bytes():
            raise UnreadableFileError(file_too_large_message(len(raw)))
        try:
            dataset = self.read_dataset(raw, **kwargs)
        except UnreadableFileError:
            raise
        except Exception as error:  # noqa: BLE001 - any parser failure means "not this format"
            raise self.not_this_format(error) from error
        dataset.beils_sha256 = hashlib.sha256(raw).hexdigest()
        dataset.beils_format = self.get_title()
        return dataset

    def not_this_format(self, error: Exception) -> UnreadableFileError:
        """What a parser's failure tells the person who uploaded the file."""
        return UnreadableFileError(
            _("The file could not be read as %(format)s (%(error)s). Check that you chose the right format.")
            % {"format": self.get_title().upper(), "error": type(error).__name__}
        )

    def read_dataset(self, raw: bytes, **kwargs) -> tablib.Dataset:
        return base_formats.TablibFormat.create_dataset(self, self.decode(raw), **kwargs)

    def streamed(self, sha: str, open_rows):
        """``open_rows()``, rows read as they are imported, with the file's hash; a parser's
        failure means "not this format", as for :meth:`create_dataset`."""
        try:
            rows = open_rows()
        except UnreadableFileError:
            raise
        except Exception as error:  # noqa: BLE001 - any parser failure means "not this format"
            raise self.not_this_format(error) from error
        rows.beils_sha256, rows.beils_format = sha, self.get_title()
        return rows

    #: Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
    BOMS = (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    )
    #: What the library and the admin set when nobody chose an encoding: not a declaration.
    UNDECLARED = frozenset({None, "", "utf-8", "utf8", "utf-8-sig", "utf_8", "utf_8_sig"})

    def decode(self, raw: bytes) -> str:
        """The file's text: by its byte-order mark; else in the encoding the caller declared
        (``manage.py import --encoding``); else UTF-16 when every other byte is a zero (a BOM-less
        "Unicode text"); else UTF-8; else Windows-1252, what Excel on a Spanish Windows saves as
        "CSV" (a superset of Latin-1 for text: "Peña", "José"), and Latin-1 for the five bytes
        Windows-1252 leaves undefined."""
        for bom, codec in self.BOMS:
            if raw.startswith(bom):
                return self._decode(raw[len(bom) :], codec)
        declared = (self.encoding or "").lower()
        if declared not in self.UNDECLARED:
            return self._decode(raw, declared)
        head = raw[:4096]
        if b"\x00" in head:
            codec = self._utf16_without_bom(head)
            if codec is None:
                raise UnreadableFileError(
                    _("This is a binary file, not a text file. Check that you chose the right format.")
                )
            return self._decode(raw, codec)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    @staticmethod
    def _utf16_without_bom(head: bytes) -> str | None:
        # Text in a Latin script as UTF-16 has a zero in every other byte, always on the same side.
        even, odd = head[0::2], head[1::2]
        if odd and odd.count(0) >= 0.9 * len(odd) and not even.count(0):
            return "utf-16-le"
        if even and even.count(0) >= 0.9 * len(even) and not odd.count(0):
            return "utf-16-be"
        return None

    def _decode(self, raw: bytes, codec: str) -> str:
        try:
            text = raw.decode(codec)
        except LookupError:
            raise UnreadableFileError(_("Unknown encoding %(codec)r.") % {"codec": codec}) from None
        except UnicodeDecodeError:
            raise UnreadableFileError(
                _("The file is not %(codec)s text. Save it as 'CSV UTF-8'.") % {"codec": codec.upper()}
            ) from None
        if "\x00" in text:
            raise UnreadableFileError(
                _("This is a binary file, not a text file. Check that you chose the right format.")
            )
        return text


class CSV(SourceHashMixin, base_formats.CSV):
    def read_dataset(self, raw, **kwargs):
        text = self.decode(raw).lstrip("\ufeff")
        kwargs.setdefault("delimiter", self.sniff_delimiter(text))
        # Records, not lines (a quoted cell may hold line breaks), counted by the C reader before
        # tablib builds a row object for each: a 50 MB file of tiny rows is 25 million of them.
        records = sum(1 for _row in csv.reader(io.StringIO(text), delimiter=kwargs["delimiter"]))
        refuse_rows_beyond_limit(records - 1)
        return tablib.import_set(text, format="csv", **kwargs)

    def open_rows(self, fh) -> "StreamedRows":
        """The rows of the CSV file open in ``fh`` (binary, seekable), read one at a time:
        what an import needs of a dataset (headers, ``len``, iteration, the file's SHA-256)
        without holding the file or its rows in memory. The file is read once to hash it, once
        to decide its encoding and count its records (so that a file that is not text, or has
        too many rows, is refused before any row is imported), then once more by the import.
        The same rules as :meth:`create_dataset`: byte-order marks, a declared encoding, UTF-16
        without a mark, UTF-8, else Windows-1252, else Latin-1; comma or semicolon."""
        sha, nul = file_digest(fh)
        head = fh.read(4096)
        rows = None
        for codec, skip in self._candidates(head):
            try:
                # A zero byte is a NUL character in UTF-8 and the 8-bit codecs; in UTF-16 and
                # UTF-32 it is everywhere, and only the decoded text can say.
                rows = StreamedRows(fh, codec, skip, check_nul=nul or codec.startswith(("utf-16", "utf-32")))
                break
            except UnicodeDecodeError:
                continue
            except (UnreadableFileError, LookupError) as error:
                if isinstance(error, LookupError):
                    raise UnreadableFileError(_("Unknown encoding %(codec)r.") % {"codec": codec}) from None
                raise
            except Exception as error:  # noqa: BLE001 - any parser failure means "not this format"
                raise self.not_this_format(error) from error
        if rows is None:
            raise UnreadableFileError(
                _("The file is not %(codec)s text. Save it as 'CSV UTF-8'.") % {"codec": codec.upper()}
            )
        rows.beils_sha256, rows.beils_format = sha, self.get_title()
        return rows

    def _candidates(self, head: bytes):
        """(codec, bytes to skip) to try in turn, as :meth:`decode` decides for a whole file."""
        for bom, codec in self.BOMS:
            if head.startswith(bom):
                return [(codec, len(bom))]
        declared = (self.encoding or "").lower()
        if declared not in self.UNDECLARED:
            return [(declared, 0)]
        if b"\x00" in head:
            codec = self._utf16_without_bom(head)
            if codec is None:
                raise UnreadableFileError(
                    _("This is a binary file, not a text file. Check that you chose the right format.")
                )
            return [(codec, 0)]
        return [("utf-8", 0), ("cp1252", 0), ("latin-1", 0)]

    @staticmethod
    def sniff_delimiter(text: str) -> str:
        """Comma or semicolon, whichever splits the header row (Excel's choice depends on the locale)."""
        header = next(csv.reader([text.split("\n", 1)[0]]), [])
        if len(header) <= 1 and ";" in text.split("\n", 1)[0]:
            return ";"
        return ","


class _Streamed:
    """What an import needs of a dataset, from a file read each time it is iterated: headers,
    ``len`` and rows as lists (``__iter__``, in the subclasses), and the file's SHA-256."""

    headers: list | None = None
    count = 0
    beils_sha256 = beils_format = ""

    def __len__(self) -> int:
        return self.count

    @staticmethod
    def _counted(rows) -> int:
        """How many ``rows`` there are, read one at a time: past ``IMPORT_MAX_ROWS`` the file is
        refused there, without reading the rest."""
        count = 0
        for count, _row in enumerate(rows, 1):
            if count > settings.IMPORT_MAX_ROWS:
                refuse_rows_beyond_limit(count)
        return count

    def to_dataset(self) -> tablib.Dataset:
        """The whole file as a tablib dataset (for resources that import row by row)."""
        dataset = tablib.Dataset(headers=self.headers)
        for row in self:
            dataset.append(row)
        dataset.beils_sha256, dataset.beils_format = self.beils_sha256, self.beils_format
        return dataset


class StreamedRows(_Streamed):
    """A CSV file's rows, read from the file each time they are iterated (see
    :meth:`CSV.open_rows`). Rows come as tablib gives them: lists of strings, short rows padded
    with empty cells, empty lines skipped. Created only once the whole file has been decoded and
    its records counted: a file that is not in ``codec`` raises ``UnicodeDecodeError`` here."""

    def __init__(self, fh, codec: str, skip: int, check_nul: bool = True):
        self.fh, self.codec, self.skip, self.check_nul = fh, codec, skip, check_nul
        self.headers, self.delimiter = None, ","
        first = self._text()
        try:
            line = first.readline().lstrip("\ufeff")
        finally:
            first.detach()
        self.delimiter = CSV.sniff_delimiter(line)
        self.count = self._counted(self)

    def _text(self):
        self.fh.seek(self.skip)
        buffered = io.BufferedReader(_Unclosed(self.fh), MB)
        return io.TextIOWrapper(buffered, encoding=self.codec, errors="strict", newline="")

    def _records(self):
        """Every non-empty record, the header row first; padded to the header's width."""
        text = self._text()
        try:
            reader = csv.reader(_text_lines(text) if self.check_nul else text, delimiter=self.delimiter)
            headers = next(reader, None)
            if headers is None:
                return
            if headers:
                headers[0] = headers[0].lstrip("\ufeff")
            self.headers = self.headers or headers
            yield headers
            width = len(headers)
            for row in reader:
                if not row:
                    continue
                if len(row) < width:
                    row += [""] * (width - len(row))
                elif len(row) > width:
                    raise tablib.InvalidDimensions
                yield row
        finally:
            text.detach()

    def __iter__(self):
        records = self._records()
        next(records, None)  # the header row
        return records


def _text_lines(text):
    for line in text:
        if "\x00" in line:
            raise UnreadableFileError(
                _("This is a binary file, not a text file. Check that you chose the right format.")
            )
        yield line


class _Unclosed(io.RawIOBase):
    """The caller's file, read through a text wrapper that must not close it."""

    def __init__(self, fh):
        self._fh = fh

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._fh.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self):
        pass


class JSON(SourceHashMixin, base_formats.JSON):
    def read_dataset(self, raw, **kwargs):
        data = json.loads(self.decode(raw).lstrip("\ufeff"))
        if isinstance(data, list):
            refuse_rows_beyond_limit(len(data))
        dataset = tablib.Dataset()
        dataset.dict = data
        return dataset

    def open_rows(self, fh):
        """An array of objects in UTF-8 (what Beils and most tools write), read one object at a
        time (see :class:`StreamedObjects`); any other JSON is read whole as before."""
        sha, nul = file_digest(fh)
        head = fh.read(4096).removeprefix(codecs.BOM_UTF8).lstrip()
        fh.seek(0)
        declared = (self.encoding or "").lower()
        if nul or declared not in self.UNDECLARED or not head.startswith(b"[") or head[1:].lstrip()[:1] == b"[":
            return self.create_dataset(fh.read())
        return self.streamed(sha, lambda: StreamedObjects(fh))


class StreamedObjects(_Streamed):
    """A JSON array of objects, one object at a time (ijson, in C). The first object's keys are
    the headers; every object must have the same keys (tablib, reading the whole file, took each
    object's values in its own order, misaligning an object whose keys came in another)."""

    def __init__(self, fh):
        self.fh = fh
        self.count = self._counted(self)

    def __iter__(self):
        import ijson

        self.fh.seek(0)
        if self.fh.read(3) != codecs.BOM_UTF8:
            self.fh.seek(0)
        for item in ijson.items(self.fh, "item", use_float=True):
            if not isinstance(item, dict):
                raise tablib.UnsupportedFormat
            if self.headers is None:
                self.headers = list(item)
            elif item.keys() != set(self.headers):
                raise tablib.InvalidDimensions
            yield [item[key] for key in self.headers]


#: The root element of a sheet, for the namespace prefix its rows carry (``<x:row>``), if any.
SHEET_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet[\s>]")


class XLSX(SourceHashMixin, base_formats.XLSX):
    """Checked before openpyxl parses it: a few hundred KB of XLSX can expand to millions of
    rows (a "decompression bomb") that would hold a worker for minutes and hundreds of MB.

    First the sizes the zip archive declares (Python's zipfile never reads past a declared size,
    and a member that is longer or shorter fails its CRC); then the rows of each sheet, counted
    on its XML as it is decompressed, in a constant amount of memory; then again as openpyxl
    reads them."""

    def read_dataset(self, raw, **kwargs):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            self._check_archive(archive)
        dataset = tablib.Dataset()
        book = self._open(raw)
        try:
            rows = book.active.rows
            dataset.headers = [cell.value for cell in next(rows, ())]
            for count, row in enumerate(rows, 1):
                refuse_rows_beyond_limit(count)
                dataset.append([cell.value for cell in row])
        finally:
            book.close()
        return dataset

    def open_rows(self, fh) -> "StreamedSheet":
        """The active sheet's rows, read one at a time from the file each time they are
        iterated (openpyxl's read-only mode), after the same checks as :meth:`read_dataset`."""
        sha, _nul = file_digest(fh)

        def checked_then_opened():
            with zipfile.ZipFile(fh) as archive:
                self._check_archive(archive)
            return StreamedSheet(fh)

        return self.streamed(sha, checked_then_opened)

    @staticmethod
    def _open(raw):
        import openpyxl

        # data_only: the values of formula cells, not the formulas themselves.
        return openpyxl.load_workbook(raw if hasattr(raw, "read") else io.BytesIO(raw), read_only=True, data_only=True)

    @staticmethod
    def _check_archive(archive: zipfile.ZipFile) -> None:
        limit = settings.IMPORT_MAX_EXPANDED_MB * MB
        expanded = sum(member.file_size for member in archive.infolist())
        if expanded > limit:
            raise UnreadableFileError(
                _(
                    "The spreadsheet expands to %(size).1f MB once unzipped; imports take spreadsheets that "
                    "expand up to %(limit)s MB (IMPORT_MAX_EXPANDED_MB). Split it into smaller files."
                )
                % {"size": expanded / MB, "limit": settings.IMPORT_MAX_EXPANDED_MB}
            )
        for member in archive.infolist():
            if member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml"):
                refuse_rows_beyond_limit(XLSX._count_rows(archive, member) - 1)

    @staticmethod
    def _count_rows(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
        """The ``<row>`` elements of a sheet, read a megabyte at a time. Counted with
        ``bytes.count`` (a regular expression is six times slower on a bomb's 300 MB)."""
        count, tail, tags = 0, b"", None
        with archive.open(member) as stream:
            while chunk := stream.read(MB):
                block = tail + chunk
                if tags is None:
                    root = SHEET_ROOT.search(block)
                    prefix = (root.group(1) or b"") if root else b""
                    tags = [b"<" + prefix + b"row" + end for end in (b">", b" ", b"\t", b"\r", b"\n", b"/")]
                count += sum(block.count(tag) for tag in tags)
                # A tag cut by the chunk boundary is counted in the next block, never twice: the
                # tail starts at the last "<", which no counted tag can begin after.
                cut = block.rfind(b"<", max(0, len(block) - 64))
                tail = block[cut:] if cut != -1 and not any(block.startswith(tag, cut) for tag in tags) else b""
                if count > settings.IMPORT_MAX_ROWS + 1:
                    break  # enough to refuse; the rest is never decompressed
        return count


class StreamedSheet(_Streamed):
    """An XLSX file's active sheet as :meth:`XLSX.read_dataset` reads it: the first row's values
    are the headers, every row as wide as they are. The rows are counted from the sheet's
    declared size, which is where openpyxl stops reading (Excel always declares it); only a
    sheet without one is read an extra time to count them (parsing is most of an XLSX import's
    time)."""

    def __init__(self, fh):
        self.fh = fh
        book = self._open()
        try:
            sheet = book.active
            declared = sheet.max_row if sheet.max_row is not None and sheet.max_column is not None else None
            self.headers = list(next(sheet.iter_rows(max_row=1, values_only=True), ()))
        finally:
            book.close()
        self.count = max(declared - 1, 0) if declared else self._counted(self)
        refuse_rows_beyond_limit(self.count)

    def _open(self):
        self.fh.seek(0)
        return XLSX._open(self.fh)

    def __iter__(self):
        book = self._open()
        try:
            rows = book.active.iter_rows(values_only=True)
            self.headers = list(next(rows, ()))
            for row in rows:
                if len(row) != len(self.headers):
                    raise tablib.InvalidDimensions
                yield list(row)
        finally:
            book.close()


FORMATS = [CSV, JSON, XLSX]
