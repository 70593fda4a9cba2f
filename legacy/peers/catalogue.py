"""Services and products: from their own files, or made from the names that appointments and
sale lines use when the export holds no catalogue of them."""

import hashlib
from decimal import Decimal

from django.utils.translation import gettext as _

from catalog.models import Product, Service
from legacy.peers.reading import ParsedFile, Row
from transfer.mapping import normalised

ZERO = Decimal("0.00")


def _code(run, kind: str, key: str) -> str:
    return f"{run.profile.name.upper()[:8]}-{kind}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _rate(run, value) -> Decimal:
    return Decimal(value if value is not None else run.profile.default_tax_rate).quantize(Decimal("0.01"))


def _catalogue(run, pf: ParsedFile, rows: list[Row], *, entity: str, model, values_of) -> None:
    counts = run.counts[entity]
    known = run.known(entity, [r.key for r in rows], model=model)
    existing = model.all_objects.in_bulk(set(known.values()))
    names = _by_name(model, [r.values.get("name") for r in rows if r.key not in known])
    fresh = []
    seen = set()
    for row in rows:
        if row.key in seen:
            run.skip(entity, row, _("the same id appears twice in the files"), file=pf.name)
            continue
        seen.add(row.key)
        if any((row.values.get(f) or ZERO) < 0 for f in ("price", "cost")):
            run.skip(entity, row, _("a negative price"), file=pf.name)
            continue
        values = values_of(row)
        obj = existing.get(known.get(row.key))
        if obj is None and normalised(values["name"]) in names:
            obj = names[normalised(values["name"])]
            run.note(entity, row, _("a Beils %(record)s has the same name") % {"record": model._meta.verbose_name},
                     _("linked to it; its price and details kept"))  # fmt: skip
            counts.updated += 1
            fresh.append((row.key, obj.pk))
            continue
        if obj is None:
            obj = model(**values)
            obj.save()
            counts.created += 1
            fresh.append((row.key, obj.pk))
            continue
        # Imported before: the salon may have repriced it in Beils since, and Beils wins; only
        # empty fields are filled.
        changed = [f for f, v in values.items() if v is not None and getattr(obj, f) in (None, "")]
        if changed:
            for f in changed:
                setattr(obj, f, values[f])
            obj.save()
            counts.updated += 1
        else:
            counts.already += 1
    run.remember(entity, model, fresh)


def _by_name(model, names) -> dict:
    wanted = {normalised(n) for n in names if n}
    if not wanted:
        return {}
    found = {}
    for obj in model.all_objects.filter(name__in=[n for n in names if n]).order_by("pk"):
        found.setdefault(normalised(obj.name), obj)
    return {k: v for k, v in found.items() if k in wanted}


def clean_name(run, name) -> str:
    """The item's name without the suffixes the product adds (Fresha's "Balayage - From")."""
    text = str(name or "").strip()
    for suffix in run.profile.name_suffixes:
        if text.lower().endswith(suffix.lower()):
            text = text[: -len(suffix)].rstrip()
    return text


def write_services(run, pf: ParsedFile, rows: list[Row]) -> None:
    def values_of(row):
        v = row.values
        minutes = v.get("duration")
        return {"name": clean_name(run, v["name"])[:150], "code": _code(run, "S", row.key), "price": v.get("price") or ZERO,
                "tax_rate": _rate(run, v.get("tax_rate")), "duration_minutes": minutes if minutes and minutes > 0 else 30,
                "description": v.get("description") or None}  # fmt: skip

    _catalogue(run, pf, rows, entity="services", model=Service, values_of=values_of)


def write_products(run, pf: ParsedFile, rows: list[Row]) -> None:
    taken_barcodes = set(
        Product.all_objects.filter(
            barcode__in=[r.values.get("barcode") for r in rows if r.values.get("barcode")]
        ).values_list("barcode", flat=True)
    )

    def values_of(row):
        v = row.values
        barcode = v.get("barcode") or None
        if barcode in taken_barcodes:
            run.note("products", row, _("another Beils product has this barcode"), _("imported without barcode"))
            barcode = None
        taken_barcodes.add(barcode)
        sku = (v.get("sku") or "").strip() or _code(run, "P", row.key)
        return {"name": clean_name(run, v["name"])[:150], "sku": sku[:50], "barcode": barcode, "price": v.get("price") or ZERO,
                "tax_rate": _rate(run, v.get("tax_rate")), "cost": v.get("cost"),
                "stock": max(v.get("stock") or 0, 0), "description": v.get("description") or None}  # fmt: skip

    _catalogue(run, pf, rows, entity="products", model=Product, values_of=values_of)


def item_for(run, *, kind: str, name: str, price: Decimal | None, tax_rate, row, entity: str) -> tuple[str, int]:
    """The service (or product) a line names: one imported or typed in before, by its name; else
    one made now, keyed by the name, so that the next line and the next run find it."""
    model, target = (Product, "products") if kind == "product" else (Service, "services")
    name = clean_name(run, name) or name
    key = "name:" + normalised(name)[:80]
    cache = run.__dict__.setdefault("_items", {})
    if (target, key) in cache:
        return model, cache[(target, key)]
    pk = run.known(target, [key], model=model).get(key)
    if pk is None:
        obj = _by_name(model, [name]).get(normalised(name))
        if obj is None:
            values = {"name": name[:150], "price": price or ZERO, "tax_rate": _rate(run, tax_rate)}
            if model is Product:
                obj = Product.objects.create(sku=_code(run, "P", key), **values)
            else:
                obj = Service.objects.create(code=_code(run, "S", key), **values)
            run.counts[target].created += 1
            run.note(target, row, _("made from %(entity)s: the export has no catalogue of it") % {"entity": entity},
                     _("created with the line's price; check it in the catalogue"))  # fmt: skip
        run.remember(target, model, [(key, obj.pk)])
        pk = obj.pk
    cache[(target, key)] = pk
    return model, pk
