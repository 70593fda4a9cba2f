"""Bringing a salon over from another salon system's exports (Fresha, Phorest, Timely, Booksy,
Square Appointments, or any CSV/XLSX through the mapping step).

A *profile* (:mod:`legacy.peers.profiles`) says, as data, what each product's export columns
mean; :mod:`legacy.peers.reading` reads and validates every file first; :mod:`legacy.peers.engine`
writes entity by entity, keeping each source row's key in :class:`~legacy.models.LegacyKey`, so a
second run creates nothing and an interrupted one carries on; :mod:`legacy.peers.report` compares
the files' totals with what Beils holds, to the cent.
"""
