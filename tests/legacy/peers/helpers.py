"""Small helpers shared by the peers' import tests."""

import json
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError

from bookings.models import Booking, BookingItem
from catalog.models import Product, Service
from crm.models import Client
from legacy.models import LegacyKey
from marketing.models import ClientBonus, GiftCard, GiftCardMovement
from sales.models import Cart, CartItem, Invoice, Payment

FILES = Path(__file__).parent / "files"
MODELS = (Client, Service, Product, Booking, BookingItem, Cart, CartItem, Payment, GiftCard, GiftCardMovement,
          ClientBonus, LegacyKey, Invoice)  # fmt: skip


def counts() -> dict[str, int]:
    return {model.__name__: model._base_manager.count() for model in MODELS}


def run(profile: str, *paths, json_report: bool = True, **options) -> tuple[int, dict | str]:
    """``import_from`` as an operator runs it: (exit code 0/1, the JSON report or the text)."""
    out = StringIO()
    args = [profile, *[str(p) for p in paths]]
    if json_report:
        args.append("--json")
    try:
        call_command("import_from", *args, stdout=out, **options)
        code = 0
    except CommandError as exc:
        out.write(f"\nERROR: {exc}")
        code = 1
    text = out.getvalue()
    if json_report and text.lstrip().startswith("{"):
        return code, json.loads(text[: text.rfind("}") + 1])
    return code, text


def write(tmp_path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path
