"""Fresha's exports: the client list (``export_customer_list.csv``) and the service list
(``export_service_list.csv``), in English or, as Fresha localises headers to the account's
language, in Italian (the one other language a real file was seen in). Fresha documents no
appointment, sales-line or voucher export columns: those files go through the mapping step (the
common English and Spanish spellings, ``--map``).

Columns: Fresha's Reports Overview and the real exports quoted in the research notes
(https://support.fresha.com/hc/en-us/articles/115001918849-Reports-Overview).
"""

from django.utils.translation import gettext_lazy as _

from legacy.peers.profiles import EntityProfile, Profile

PROFILE = Profile(
    name="fresha",
    label=_("Fresha"),
    source_url="https://support.fresha.com/hc/en-us/articles/115001918849-Reports-Overview",
    date_order="dmy",
    entities={
        "clients": EntityProfile(
            columns={
                "key": ("Client ID", "ID cliente"),
                "name": ("First Name", "Nome"),
                "surname": ("Last Name", "Cognome"),
                "phone": ("Mobile Number", "Numero di cellulare", "Telephone", "Telefono"),
                "email": ("Email",),
                "gender": ("Gender", "Sesso"),
                "address": ("Address", "Indirizzo"),
                "city": ("City", "Città"),
                "postal_code": ("Post Code", "Codice postale"),
                "birth_date": ("Date of Birth", "Data di nascita"),
                "notes": ("Note",),
            },
            ignore=(
                "Full Name",
                "Nome e cognome",
                "Added",
                "Aggiunto",
                "Telephone",
                "Telefono",
                "State",
                "Provincia",
                "Area",
                "Zona",
                "Apartment Suite",
                "Suite appartamento",
                "Block Reason",
                "Motivo del blocco",
            ),
        ),  # fmt: skip
        "services": EntityProfile(
            columns={
                "key": ("Service ID", "Identificativo servizio"),
                "name": ("Service name", "Nome servizio"),
                "price": ("Retail price", "Prezzo al dettaglio"),
                "duration": ("Duration", "Durata"),
                "description": ("Description", "Descrizione"),
                "category": ("Category name", "Nome della categoria"),
            },
            # Fresha's "Tax" names a tax ("Default per location"), not a rate: the salon's rate applies.
            ignore=("Tax", "Imposta", "Extra time", "Tempo supplementare", "SKU"),
            # The service id may be empty and was seen twice in one real file: the name goes with it.
            key_from=("key", "name"),
        ),
        # Not documented by Fresha: the columns of its Data Connector's bookings table, as a
        # plausible export would name them; any other file goes through the mapping step.
        "appointments": EntityProfile(
            columns={
                "key": ("Booking ID",),
                "group_key": ("Appointment ID",),
                "client_key": ("Client ID",),
                "client_name": ("Client",),
                "staff": ("Team Member",),
                "service": ("Service",),
                "start": ("Scheduled Date",),
            },
            ignore=("Location ID",),
        ),
    },
    name_suffixes=(" - From", " - Free"),
    phone_code_without_plus=True,
)
