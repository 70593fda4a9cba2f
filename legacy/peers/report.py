"""The reconciliation report: per entity what was read, created, updated, already there and
skipped (each skipped row with its reason), the likely duplicate clients, and the money in the
files against the money Beils now holds from them, to the cent."""

from dataclasses import asdict
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from beils.lib.money import format_money
from legacy.models import LegacyKey
from legacy.peers.targets import BASE_TARGETS, ENTITIES, ENTITY_LABELS
from marketing.models import ClientBonus, GiftCard
from sales.models import Cart, Payment

ZERO = Decimal("0.00")
DUPLICATE_BY = {
    "email": gettext_lazy("e-mail"),
    "phone": gettext_lazy("phone"),
    "name and birth date": gettext_lazy("name and birth date"),
}
MONEY_LABELS = {
    "sales": gettext_lazy("sales total"),
    "payments": gettext_lazy("payments total"),
    "payments_file": gettext_lazy("payments in the payments file"),
    "gift_cards": gettext_lazy("gift card balances"),
    "bono_sessions": gettext_lazy("bono sessions left"),
}


def _imported(run, entity: str, model, *, keys_of: str | None = None):
    keys = LegacyKey.objects.filter(
        entity=run.entity_key(entity), legacy_id__in=run.source_keys[keys_of or entity], content_type_id=run.ct(model)
    )
    return model.objects.filter(pk__in=keys.values("object_id")) if hasattr(model, "objects") else keys


def _beils_money(run, name: str):
    if name == "sales":
        return _imported(run, "sales", Cart).aggregate(s=Sum("total"))["s"] or ZERO
    if name == "payments":
        return Payment.objects.filter(cart__in=_imported(run, "sales", Cart)).aggregate(s=Sum("amount"))["s"] or ZERO
    if name == "payments_file":
        carts = _imported(run, "payment_rows", Cart, keys_of="payments")
        return Payment.objects.filter(cart__in=carts).aggregate(s=Sum("amount"))["s"] or ZERO
    if name == "gift_cards":
        return _imported(run, "balances", GiftCard).aggregate(s=Sum("current_balance"))["s"] or ZERO
    return _imported(run, "balances", ClientBonus).aggregate(s=Sum("sessions_remaining"))["s"] or 0


def money_checks(run) -> list[dict]:
    checks = []
    sources = dict(run.source_money)
    if "sales" in sources:
        sources["payments"] = dict(sources["sales"])
    for name in ("sales", "payments", "payments_file", "gift_cards", "bono_sessions"):
        if name not in sources:
            continue
        count = name == "bono_sessions"
        source, skipped = sources[name]["source"], sources[name]["skipped"]
        expected, beils = source - skipped, _beils_money(run, name)
        fmt = (lambda v: str(int(v))) if count else (lambda v: f"{Decimal(v).quantize(Decimal('0.01')):.2f}")
        checks.append({"name": name, "label": str(MONEY_LABELS[name]), "kind": "count" if count else "money",
                       "source": fmt(source), "skipped": fmt(skipped), "expected": fmt(expected),
                       "beils": fmt(beils), "difference": fmt(Decimal(beils) - expected),
                       "ok": Decimal(beils) == expected})  # fmt: skip
    return checks


def build_report(run, parsed, *, errors: list[dict] | None = None, failure: str | None = None) -> dict:
    from legacy.peers.clients import likely_duplicates

    errors = errors or []
    money = [] if errors else money_checks(run)
    duplicates = [] if errors else likely_duplicates(run)
    reconciled = not errors and not failure and all(c["ok"] for c in money)
    return {
        "profile": run.profile.name,
        "profile_label": run.profile.named,
        "dry_run": run.dry_run,
        "files": [
            {
                "name": pf.name,
                "sha256": pf.sha256,
                "entity": pf.entity,
                "rows": pf.rows_read,
                "mapping": {h: n for h, n in pf.mapping.items() if n},
            }
            for pf in parsed
        ],  # fmt: skip
        "errors": errors,
        "entities": {e: asdict(run.counts[e]) for e in ENTITIES if e in run.counts},
        "skipped": run.skips,
        "notes": sorted(run.notes.values(), key=lambda n: (n["level"] != "warning", n["entity"], -n["count"])),
        "duplicates": duplicates,
        "money": money,
        "reconciled": reconciled,
        "ok": reconciled,
        "failure": failure,
    }


def column_heads() -> tuple[str, ...]:
    """The count table's heads: rows (filas, feminine in Spanish) read, created…"""
    return (
        _("entity"),
        pgettext("import report: rows", "read"),
        pgettext("import report: rows", "created"),
        pgettext("import report: rows", "updated"),
        pgettext("import report: rows", "already imported"),
        pgettext("import report: rows", "skipped"),
    )


def report_lines(r: dict) -> list[tuple[str, str]]:
    """The report in words, as ``(style, line)`` pairs: style is "heading", "ok", "error" or ""."""
    out = []
    if r["dry_run"]:
        out.append(
            (
                "heading",
                _("Dry run of the import from %(profile)s: nothing was written.") % {"profile": r["profile_label"]},
            )
        )
    else:
        out.append(("heading", _("Import from %(profile)s") % {"profile": r["profile_label"]}))
    for f in r["files"]:
        out.append(("", _("%(file)s: %(entity)s, %(rows)s rows, SHA-256 %(sha)s…")
                    % {"file": f["name"], "entity": ENTITY_LABELS.get(f["entity"], f["entity"]), "rows": f["rows"],
                       "sha": f["sha256"][:12]}))  # fmt: skip
        columns = ", ".join(f"{header} → {field}" for header, field in f["mapping"].items())
        out.append(("", "  " + _("columns: %(columns)s") % {"columns": columns}))
    if r["errors"]:
        count = len(r["errors"])
        out.append(("error", ngettext("%(count)s row cannot be imported; nothing was written. Correct it and run again:",
                                      "%(count)s rows cannot be imported; nothing was written. Correct them and run again:",
                                      count) % {"count": count}))  # fmt: skip
        for e in r["errors"]:
            out.append(("", "  " + _("%(file)s, row %(row)s, column “%(column)s”: %(reason)s") % e))
        return out
    heads = column_heads()
    out.append(("heading", f"{heads[0]:<22}" + "".join(f"{h:>18}" for h in heads[1:])))
    for entity, c in r["entities"].items():
        cells = (c["read"], c["created"], c["updated"], c["already"], c["skipped"])
        out.append(("", f"{str(ENTITY_LABELS[entity]):<22}" + "".join(f"{n:>18}" for n in cells)))
    if r["skipped"]:
        out.append(("heading", _("Skipped rows")))
        for s in r["skipped"]:
            out.append(("", "  " + _("%(file)s, row %(row)s (%(entity)s): %(reason)s")
                        % {**s, "entity": ENTITY_LABELS.get(s["entity"], s["entity"])}))  # fmt: skip
    if r["notes"]:
        out.append(("heading", _("Imported with a change to look at")))
        for n in r["notes"]:
            rows = ", ".join(str(x) for x in n["rows"][:10])
            out.append(("", "  " + _("%(entity)s: %(reason)s × %(count)s → %(action)s (rows %(rows)s)")
                        % {**n, "entity": ENTITY_LABELS.get(n["entity"], n["entity"]), "rows": rows}))  # fmt: skip
    if r["duplicates"]:
        out.append(("heading", ngettext("Likely duplicate clients (%(count)s group; merge them in the admin)",
                                        "Likely duplicate clients (%(count)s groups; merge them in the admin)",
                                        len(r["duplicates"])) % {"count": len(r["duplicates"])}))  # fmt: skip
        for g in r["duplicates"]:
            line = _("same %(field)s: %(clients)s") % {"field": DUPLICATE_BY.get(g["by"], g["by"]),
                                                       "clients": ", ".join(f"#{pk}" for pk in g["clients"])}  # fmt: skip
            if g.get("source_ids"):
                line += " " + _("(ids %(ids)s in the files, linked to one client)") % {
                    "ids": ", ".join(g["source_ids"])
                }
            out.append(("", "  " + line))
    if r["money"]:
        out.append(("heading", _("Reconciliation")))
        for c in r["money"]:
            shown = (
                c if c["kind"] != "money" else {**c, **{k: format_money(c[k]) for k in ("source", "skipped", "beils")}}
            )
            words = _("%(label)s: in the files %(source)s, skipped %(skipped)s, in Beils %(beils)s") % shown
            if c["ok"]:
                out.append(("ok", "  " + words + " — " + _("reconciled")))
            else:
                difference = format_money(c["difference"]) if c["kind"] == "money" else c["difference"]
                out.append(
                    ("error", "  " + words + " — " + _("differs by %(difference)s") % {"difference": difference})
                )
    if r["failure"]:
        out.append(("error", _("The import stopped: %(error)s. Run it again to carry on; nothing is duplicated.")
                    % {"error": r["failure"]}))  # fmt: skip
    elif r["reconciled"]:
        out.append(("ok", _("Every total reconciles to the cent.")))
    return out


def report_tables(r: dict) -> dict:
    """The report for the admin page: the same facts as :func:`report_lines`, as tables."""
    label = lambda entity: ENTITY_LABELS.get(entity, entity)  # noqa: E731
    return {
        "heads": column_heads(),
        "files": [{**f, "entity_label": label(f["entity"]), "columns": _columns_read(f)} for f in r["files"]],
        "entities": [{"label": label(e), **c} for e, c in r["entities"].items()],
        "skipped": [{**s, "entity_label": label(s["entity"])} for s in r["skipped"]],
        "notes": [{**n, "entity_label": label(n["entity"]), "rows_shown": ", ".join(str(x) for x in n["rows"][:10])}
                  for n in r["notes"]],
        "duplicates": [{"by": DUPLICATE_BY.get(g["by"], g["by"]), "clients": g["clients"],
                        "source_ids": ", ".join(g.get("source_ids") or [])} for g in r["duplicates"]],
    }  # fmt: skip


def _columns_read(file: dict) -> str:
    """``Fecha → date and time, Importe → total…``: each column with the meaning it was read as,
    in the reader's language."""
    labels = {t.name: t.label for t in BASE_TARGETS.get(file["entity"], ())}
    return ", ".join(f"{header} → {labels.get(name, name)}" for header, name in file["mapping"].items())
