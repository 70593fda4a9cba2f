"""The invoices' hash chain, verified (``manage.py verifyinvoices``): every invoice's hash matches
its fields and the previous invoice's hash, and each series' numbers run without gaps."""

from collections import Counter
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from sales.models import Invoice, InvoiceSequence, invoice_hash
from sales.services import invoice_number


@dataclass
class ChainProblem:
    number: str
    problem: str

    def as_dict(self) -> dict:
        return {"number": self.number, "problem": self.problem}


@dataclass
class ChainReport:
    invoices: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken(self) -> ChainProblem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict:
        first = self.first_broken
        return {
            "ok": self.ok,
            "invoices": self.invoices,
            "first_broken": first.as_dict() if first else None,
            "problems": [p.as_dict() for p in self.problems],
        }


def invoice_chain_verify() -> ChainReport:
    """Check every invoice: numbers gap-free and unique per series and year, each number what its
    series, year and sequence say, each hash recomputed from the invoice's own fields, and each
    ``previous_hash`` the hash of the invoice issued before it (in id order)."""
    report = ChainReport()
    seen: dict[tuple[str, int], list[int]] = {}
    previous_hash, previous_number = None, None
    for rows in _batches():
        for series, year, seq, number, issuer, issued, total, stored, prev in rows:
            report.invoices += 1
            seen.setdefault((series, year), []).append(seq)
            if number != invoice_number(series, year, seq):
                problem = _("its number does not match series %(series)s, %(year)s, #%(seq)s")
                report.problems.append(ChainProblem(number, problem % {"series": series, "year": year, "seq": seq}))
            if (prev or None) != (previous_hash or None):
                if previous_number:
                    problem = _("its previous hash should be the hash of %(number)s: the chain is broken")
                else:
                    problem = _("its previous hash should be empty (the first invoice): the chain is broken")
                report.problems.append(ChainProblem(number, problem % {"number": previous_number}))
            expected = invoice_hash(
                issuer_tax_id=issuer, number=number, issue_date=issued, total=total, previous_hash=prev
            )
            if stored != expected:
                report.problems.append(ChainProblem(number, _("its hash does not match its contents: it was altered")))
            previous_hash, previous_number = stored, number
    report.problems += _numbering_problems(seen)
    return report


#: Invoices read per query, by primary key: MariaDB's driver holds a whole result set in memory
#: (``.iterator()`` does not stream there), so the chain is read in key ranges, values only.
BATCH = 5000
FIELDS = ("series", "year", "sequence_number", "number", "issuer_tax_id", "issue_date", "total", "hash",
          "previous_hash")  # fmt: skip


def _batches():
    """Every invoice's hashed fields in id order, ``BATCH`` at a time (a query each, from the
    last id read: no offset, no list of every key)."""
    last = None
    while True:
        invoices = Invoice.objects.order_by("pk")
        if last is not None:
            invoices = invoices.filter(pk__gt=last)
        rows = list(invoices.values_list("pk", *FIELDS)[:BATCH])
        if not rows:
            return
        last = rows[-1][0]
        yield [row[1:] for row in rows]
        if len(rows) < BATCH:
            return


def _numbering_problems(seen: dict[tuple[str, int], list[int]]) -> list[ChainProblem]:
    problems = []
    last_taken = {(s.series, s.year): s.last_number for s in InvoiceSequence.objects.all()}
    for (series, year), numbers in sorted(seen.items()):
        duplicates = sorted(n for n, count in Counter(numbers).items() if count > 1)
        for n in duplicates:
            problems.append(ChainProblem(invoice_number(series, year, n), _("this number is used more than once")))
        expected_last = max(max(numbers), last_taken.get((series, year), 0))
        missing = sorted(set(range(1, expected_last + 1)) - set(numbers))
        for n in missing:
            problems.append(ChainProblem(invoice_number(series, year, n), _("this number is missing: a gap")))
    return problems
