"""What a streamed import keeps of its rows, whatever the file's size: the keys seen so far (to
name a duplicate with both row numbers), the failing rows (written to a temporary file as they
are found) and a result with counts and the first failing rows only."""

from __future__ import annotations

import csv
import io
import tempfile
from array import array

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export.results import InvalidRow, Result

from beils.lib.spreadsheets import escape_formula


class SeenKeys:
    """``{key: number of the first row that had it}`` for every key of a file, in 12 bytes a
    slot whatever the key (24 MiB for a million keys, where a dict of a million e-mail
    addresses is over 100 MiB): an open-addressing table of the keys' 64-bit hashes, at most
    three quarters full. Two different keys with the same hash would be taken for one (about
    one chance in 30 million for a file of a million keys; the message names both rows).

    ``expected``: how many keys there will be (the file's rows), so that the table is made at
    its final size instead of growing (a growth holds the old table and the new one at once)."""

    def __init__(self, expected: int = 0):
        capacity = 1 << 12
        while 3 * capacity < 4 * expected:
            capacity *= 2
        self._hashes, self._rows = array("q", bytes(8 * capacity)), array("i", bytes(4 * capacity))
        self._mask, self._count = capacity - 1, 0

    def __len__(self) -> int:
        return self._count

    def setdefault(self, key, number: int) -> int:
        """The row that first had ``key``; ``number`` if none did (and it is remembered)."""
        code = hash(key) or 1  # 0 marks a free slot
        hashes, mask = self._hashes, self._mask
        slot = code & mask
        while True:
            found = hashes[slot]
            if found == code:
                return self._rows[slot]
            if not found:
                break
            slot = (slot + 1) & mask
        hashes[slot], self._rows[slot] = code, number
        self._count += 1
        if 4 * self._count > 3 * (mask + 1):
            self._grow()
        return number

    def _grow(self):
        old = zip(self._hashes, self._rows, strict=True)
        capacity = 2 * (self._mask + 1)
        self._hashes, self._rows = array("q", bytes(8 * capacity)), array("i", bytes(4 * capacity))
        self._mask = mask = capacity - 1
        hashes, rows = self._hashes, self._rows
        for code, number in old:
            if code:
                slot = code & mask
                while hashes[slot]:
                    slot = (slot + 1) & mask
                hashes[slot], rows[slot] = code, number


class FailingRows:
    """Every failing row of an import, written to a temporary file as it is found: the CSV a
    person fixes in a spreadsheet (row number as the import page shows it, errors, then the row as
    it was in the file, with the file's separator), without holding the rows in memory."""

    def __init__(self, headers, columns, delimiter: str = ","):
        self.headers, self.columns, self.count = list(headers), columns, 0
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - open until the job has stored it (close())
        self._text = io.TextIOWrapper(self.file, encoding="utf-8", newline="", write_through=True)
        self._text.write("\ufeff")
        self._writer = csv.writer(self._text, delimiter=delimiter)
        self._writer.writerow([_("Row"), _("Errors"), *self.headers])

    def add_invalid(self, number: int, row: dict, error: ValidationError) -> None:
        invalid, columns = InvalidRow(number, error, ()), self.columns
        messages = [f"{columns.get(f, f)}: {'; '.join(errors)}" for f, errors in invalid.field_specific_errors.items()]
        self._add(number, row, "; ".join([*messages, *invalid.non_field_specific_errors]))

    def add_errors(self, number: int, row: dict, errors) -> None:
        values = dict(errors[0].row or {}) if errors and errors[0].row else row
        self._add(number, values, "; ".join(str(e.error) for e in errors))

    def _add(self, number, values, message):
        cells = [escape_formula(values.get(header)) for header in self.headers]
        self._writer.writerow([number, escape_formula(message), *cells])
        self.count += 1

    def open(self):
        """The file, from its start (for ``default_storage.save``)."""
        self._text.flush()
        self.file.seek(0)
        return self.file

    def close(self):
        self._text.close()


class BoundedResult(Result):
    """The library's ``Result`` keeping only what a large import reports: the totals, and the
    first ``KEPT`` failing rows (every failing row goes to ``failing_rows``, a file). The
    library's keeps a result for every row of the file."""

    KEPT = 100

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failing_rows: FailingRows | None = None

    def append_row_result(self, row_result):
        failed = row_result.errors or row_result.validation_error is not None
        if failed and len(self.rows) < self.KEPT:
            self.rows.append(row_result)

    def append_invalid_row(self, number, row, validation_error):
        if len(self.invalid_rows) < self.KEPT:
            super().append_invalid_row(number, row, validation_error)

    def append_error_row(self, number, row, errors):
        if len(self.error_rows) < self.KEPT:
            super().append_error_row(number, row, errors)

    def append_failed_row(self, row, error):
        if len(self.failed_dataset) < self.KEPT:
            super().append_failed_row(row, error)

    def row_errors(self):
        # The library numbers them by their place among every row's result, not kept here.
        return [(row.number, row.errors) for row in self.error_rows]
