#!/usr/bin/env python
"""Per-table row counts and SHA-256 of everything ``seed`` writes, to show that a change to the
builders keeps the data (issue 17). Seeds a fresh scratch database, then digests every column of
every seeded table, rows in primary-key order. Timestamps from the run's own clock (``updated_at``,
and ``created_at`` where the builders leave the default) read as "now": the anchor is in the past,
so that no generated date comes after the run. Run it in two checkouts and compare the output:

    BENCH_DATABASE_URL=mysql://root@127.0.0.1:3306/beils_wts_digest .venv/bin/python bench/seed_digest.py --clients 2000
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from seed_bench import DEFAULT_URL, recreate_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--random-seed", type=int, default=42)
    parser.add_argument("--anchor", default="2024-06-01")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beils.settings")
    import django

    django.setup()
    from datetime import date

    from django.utils import timezone

    from demo.services import demo_data_seed

    started = timezone.now()
    demo_data_seed(clients=args.clients, random_seed=args.random_seed, anchor=date.fromisoformat(args.anchor))
    for table, rows, digest in table_digests(started):
        print(f"{table:<32}{rows:>10}  {digest}")


def table_digests(started):
    """(table, rows, SHA-256 of its rows) for every table the seed writes, in the seed's order."""
    import hashlib
    from datetime import datetime

    from catalog.models import Product
    from demo.services import SEEDED_MODELS
    from marketing.models import Bonus, ClientBonus

    through = [Product.tags.through, Bonus.services.through, ClientBonus.services.through]
    for model in [*SEEDED_MODELS, *through]:
        columns = [f.attname for f in model._meta.concrete_fields]
        digest, rows = hashlib.sha256(), 0
        for row in model._base_manager.order_by("pk").values_list(*columns).iterator(chunk_size=5000):
            row = ["now" if isinstance(v, datetime) and v >= started else v for v in row]
            digest.update(repr(row).encode())
            rows += 1
        yield model._meta.db_table, rows, digest.hexdigest()[:16]


if __name__ == "__main__":
    main()
