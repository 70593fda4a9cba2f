"""Runs the builders in their one order: the staff, the catalogue and the offers first, then the
clients in chunks (each chunk's people, bonos, bookings and sales together, so memory stays flat
however many clients there are), then what spans all clients: walk-in sales, gift cards, the
coupon and bono counters, and last the invoices, numbered in issue order."""

import gc
from collections import Counter
from contextlib import contextmanager
from datetime import date

from django.db import reset_queries

from demo.builders import bookings, catalogue, marketing, people, sales
from demo.builders.salon import CLIENT_CHUNK, Salon


def build_salon(*, counts: Counter, random_seed: int, clients: int, anchor: date) -> Salon:
    """Write the whole demo salon, adding to ``counts`` how many rows went to each model."""
    salon = Salon(counts=counts, random_seed=random_seed, clients=clients, anchor=anchor)
    with _cycle_collection_per_chunk():
        people.build_users(salon)
        catalogue.build_catalogue(salon)
        marketing.build_marketing(salon)
        for start in range(0, clients, CLIENT_CHUNK):
            _build_client_chunk(salon, start, min(CLIENT_CHUNK, clients - start))
            # With DEBUG on, Django keeps the last 9 000 statements, and bulk INSERTs are large.
            reset_queries()
            gc.collect()
        sales.build_walk_in_sales(salon)
        marketing.build_gift_cards(salon)
        marketing.finish_counters(salon)
        sales.build_invoices(salon)
    return salon


@contextmanager
def _cycle_collection_per_chunk():
    """Python's cycle collector runs every 700 new objects, and the seed makes millions (almost
    all freed by reference counting): about a tenth of the seed's time (issue 17). It is paused
    while the salon is built, and the loop collects once per chunk of clients instead."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build_client_chunk(salon: Salon, offset: int, count: int) -> None:
    chunk = people.build_clients(salon, offset, count)
    client_bonuses = marketing.build_client_bonuses(salon, chunk)
    visits, items = bookings.build_bookings(salon, chunk, client_bonuses)
    sales.build_client_sales(salon, chunk, visits, items, client_bonuses)
