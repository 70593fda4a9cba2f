"""File formats for import/export: CSV as Excel writes it, JSON and XLSX.

The library's CSV reads comma-separated UTF-8 without a byte-order mark only. Excel in a Spanish
locale saves "CSV UTF-8" with a BOM, semicolons and CRLF line ends; these classes read all of that.
They read the file as bytes so that the audit entry carries the SHA-256 of the file exactly as
uploaded (``manage.py import … --format beils.lib.formats.CSV`` reads it the same way).

The temporary file between the admin's dry run and its confirmation must then be stored in bytes
(``MediaStorage`` or ``CacheStorage``, see ``IMPORT_EXPORT_TMP_STORAGE_CLASS``).
"""

import csv
import hashlib

import tablib
from django.conf import settings
from django.core.management.base import CommandError
from import_export.formats import base_formats


def max_import_bytes() -> int:
    return settings.IMPORT_MAX_MB * 1024 * 1024


def file_too_large_message(size: int) -> str:
    return (
        f"The file is {size / 1024 / 1024:.1f} MB; imports take files up to {settings.IMPORT_MAX_MB} MB "
        "(IMPORT_MAX_MB). Split it into smaller files."
    )


class UnreadableFileError(CommandError, ValueError):
    """The file is not in the chosen format. A ``CommandError`` so that ``manage.py import``
    prints the message and exits 1 instead of a traceback; the admin shows it as a form error."""


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
            raise UnreadableFileError(
                f"The file could not be read as {self.get_title().upper()} ({type(error).__name__}). "
                "Check that you chose the right format."
            ) from error
        dataset.beils_sha256 = hashlib.sha256(raw).hexdigest()
        dataset.beils_format = self.get_title()
        return dataset

    def read_dataset(self, raw: bytes, **kwargs) -> tablib.Dataset:
        return base_formats.TablibFormat.create_dataset(self, self.decode(raw), **kwargs)

    def decode(self, raw: bytes) -> str:
        if b"\x00" in raw[:4096]:
            raise UnreadableFileError("This is a binary file, not a text file.")
        try:
            # utf-8-sig: the BOM Excel writes in front of "CSV UTF-8" is not part of the first header.
            return raw.decode(self.encoding or "utf-8-sig")
        except UnicodeDecodeError:
            raise UnreadableFileError("The file is not UTF-8 text. Save it as 'CSV UTF-8'.") from None


class CSV(SourceHashMixin, base_formats.CSV):
    def read_dataset(self, raw, **kwargs):
        text = self.decode(raw).lstrip("\ufeff")
        kwargs.setdefault("delimiter", self.sniff_delimiter(text))
        return tablib.import_set(text, format="csv", **kwargs)

    @staticmethod
    def sniff_delimiter(text: str) -> str:
        """Comma or semicolon, whichever splits the header row (Excel's choice depends on the locale)."""
        header = next(csv.reader([text.split("\n", 1)[0]]), [])
        if len(header) <= 1 and ";" in text.split("\n", 1)[0]:
            return ";"
        return ","


class JSON(SourceHashMixin, base_formats.JSON):
    pass


class XLSX(SourceHashMixin, base_formats.XLSX):
    def read_dataset(self, raw, **kwargs):
        return base_formats.XLSX.create_dataset(self, raw, **kwargs)


FORMATS = [CSV, JSON, XLSX]
