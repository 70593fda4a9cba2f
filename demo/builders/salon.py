"""The salon being built: its random source and name pools, its calendar, and what the builders
have made so far (later builders read what earlier ones wrote)."""

import random
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone
from faker import Faker

from beils.lib.money import round_money
from demo.builders.inserts import insert

BATCH = 2000
CLIENT_CHUNK = 1000
HISTORY_DAYS = 3 * 365
UPCOMING_DAYS = 14


class Salon:
    def __init__(self, *, counts: Counter, random_seed: int, clients: int, anchor: date):
        self.counts, self.n_clients, self.anchor = counts, clients, anchor
        self.rng = random.Random(random_seed)
        fake = Faker("es_ES")
        fake.seed_instance(random_seed)
        # Pools drawn once: Faker per row would cost more than everything else put together.
        self.female = sorted({fake.first_name_female() for _ in range(300)})
        self.male = sorted({fake.first_name_male() for _ in range(300)})
        self.surnames = sorted({fake.last_name() for _ in range(400)})
        self.streets = sorted({fake.street_address() for _ in range(400)})
        self.cities = sorted({(fake.city(), fake.postcode()) for _ in range(120)})
        self.tz = timezone.get_current_timezone()
        self.now = datetime.combine(anchor, time(12, 0), tzinfo=self.tz)
        self.staff_cursor: dict[tuple[int, date], datetime] = {}
        self.coupon_uses: Counter = Counter()
        # Filled in by the builders, in the orchestrator's order.
        self.staff, self.services, self.active_products, self.packs = [], [], [], []
        self.bonuses, self.bonus_service, self.coupons = [], {}, []

    def put(self, model, objs: list) -> list:
        """Write ``objs`` in bulk and count them: the one way rows reach the database."""
        insert(model, objs, batch_size=BATCH)
        self.counts[model._meta.label] += len(objs)
        return objs

    def when(self, day: date, minute_of_day: int) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.tz) + timedelta(minutes=minute_of_day)

    def random_day(self, *, future: bool = False) -> date:
        while True:
            offset = self.rng.randint(1, UPCOMING_DAYS) if future else -self.rng.randint(1, HISTORY_DAYS)
            day = self.anchor + timedelta(days=offset)
            if day.weekday() != 6:  # closed on Sundays
                return day

    def money(self, low: float, high: float) -> Decimal:
        return round_money(Decimal(str(self.rng.uniform(low, high))))
