"""People: the staff accounts, and the clients with their consents and health questionnaires."""

import unicodedata
from datetime import date, timedelta

from beils.lib.models import Status
from crm.models import (
    Client,
    Consent,
    ConsentStatus,
    ConsentType,
    DocumentType,
    Gender,
    Questionnaire,
    Revoke,
    Role,
    User,
)
from demo.builders.salon import BATCH, Salon

DEMO_DOMAINS = ["example.com", "example.org", "example.net"]
CONSENT_SHARES = ((ConsentType.DATA_PROTECTION, 0.92), (ConsentType.INDIBA, 0.2), (ConsentType.LASER, 0.15))
REVOKE_REASONS = ["Ya no desea recibir tratamientos.", "Solicitud del cliente.", None]
QUESTIONS = [
    ("¿Tiene alergias conocidas?", ["No", "Sí, al látex", "Sí, a frutos secos", "Sí, a algunos cosméticos"]),
    ("¿Toma medicación habitual?", ["No", "Sí", "Anticonceptivos", "Antihistamínicos"]),
    ("¿Está embarazada o en periodo de lactancia?", ["No", "Sí", "No aplica"]),
    ("Tipo de piel", ["Seca", "Grasa", "Mixta", "Normal", "Sensible"]),
    ("¿Tiene marcapasos o implantes metálicos?", ["No", "Sí"]),
]  # fmt: skip


def build_users(salon: Salon) -> None:
    """The admin, the manager and one staff member per 1 500 clients (4 to 60): ``salon.staff``."""
    people = [
        ("admin@example.com", "Ana", "Admin", Role.ADMIN),
        ("manager@example.com", "Marta", "Gerente", Role.MANAGER),
        *_staff_members(salon, max(4, min(60, salon.n_clients // 1500))),
    ]
    users = salon.put(
        User,
        [
            User(email=email, name=name, surname=surname, role=role, is_demo=True, password="!")  # noqa: S106 (unusable)
            for email, name, surname, role in people
        ],
    )
    for user in users:
        user.sync_role_group()
    salon.staff = [u for u in users if u.role == Role.STAFF]


def _staff_members(salon: Salon, count: int) -> list[tuple]:
    members = []
    for i in range(1, count + 1):
        name = salon.rng.choice(salon.female)
        members.append((f"staff{i}@example.com", name, salon.rng.choice(salon.surnames), Role.STAFF))
    return members


def build_clients(salon: Salon, offset: int, count: int) -> list[Client]:
    """Clients number ``offset + 1`` to ``offset + count``, with their consents and questionnaires."""
    clients = salon.put(Client, [_client(salon, n) for n in range(offset, offset + count)])
    _build_consents(salon, clients)
    _build_questionnaires(salon, clients)
    return clients


def _client(salon: Salon, n: int) -> Client:
    rng = salon.rng
    female = rng.random() < 0.82
    name = rng.choice(salon.female if female else salon.male)
    surname = f"{rng.choice(salon.surnames)} {rng.choice(salon.surnames)}"
    city, postcode = rng.choice(salon.cities)
    has_doc = rng.random() < 0.6
    doc_type = rng.choice([DocumentType.DNI] * 8 + [DocumentType.NIE, DocumentType.PASSPORT]) if has_doc else None
    created = salon.when(salon.random_day(), rng.randint(9 * 60, 19 * 60))
    # Keyword arguments are evaluated in order: each draws from ``rng`` in the order written.
    return Client(
        name=name, surname=surname,
        email=f"{_ascii(name)}.{_ascii(surname.split()[0])}.{n + 1}@{rng.choice(DEMO_DOMAINS)}" if rng.random() < 0.85 else None,
        phone=f"+34 6{rng.randint(0, 99_999_999):08d}" if rng.random() < 0.95 else None,
        address=rng.choice(salon.streets) if rng.random() < 0.6 else None,
        city=city, postal_code=postcode, country="ES",
        gender=(Gender.FEMALE if female else Gender.MALE) if rng.random() < 0.9 else None,
        birth_date=date(rng.randint(1950, 2006), rng.randint(1, 12), rng.randint(1, 28)) if rng.random() < 0.7 else None,
        document_type=doc_type,
        document_number=f"{rng.randint(0, 99_999_999):08d}{rng.choice('TRWAGMYFPDXBNJZSQVHLCKE')}" if has_doc else None,
        notes=rng.choice([None, None, None, "Prefiere cita por la tarde.", "Piel sensible.", "Avisar por WhatsApp."]),
        status=Status.OFF if rng.random() < 0.03 else Status.ON,
        created_at=created, is_demo=True,
    )  # fmt: skip


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _build_consents(salon: Salon, clients: list[Client]) -> None:
    consents = []
    for client in clients:
        for kind, share in CONSENT_SHARES:
            if salon.rng.random() < share:
                consents.append(_consent(client, kind, signed=salon.rng.random() < 0.9))
    consents = salon.put(Consent, consents)
    revoked = [c for c in consents if c.status == ConsentStatus.SIGNED and salon.rng.random() < 0.03]
    for consent in revoked:
        consent.status = ConsentStatus.REVOKED
    Consent.objects.bulk_update(revoked, ["status"], batch_size=BATCH)
    salon.put(
        Revoke,
        [Revoke(client=c.client, consent=c, reason=salon.rng.choice(REVOKE_REASONS),
                revoked_at=c.signed_at + timedelta(days=salon.rng.randint(30, 300)), is_demo=True)
         for c in revoked],
    )  # fmt: skip


def _consent(client: Client, kind: str, *, signed: bool) -> Consent:
    return Consent(
        client=client, kind=kind, is_demo=True,
        status=ConsentStatus.SIGNED if signed else ConsentStatus.UNSIGNED,
        signed_at=client.created_at if signed else None,
        document_url=f"https://docs.example.com/consents/{client.pk}-{kind.lower()}.pdf" if signed else None,
    )  # fmt: skip


def _build_questionnaires(salon: Salon, clients: list[Client]) -> None:
    salon.put(
        Questionnaire,
        [Questionnaire(client=c, title="Cuestionario de salud", answers={q: salon.rng.choice(a) for q, a in QUESTIONS},
                       created_at=c.created_at, is_demo=True)
         for c in clients if salon.rng.random() < 0.35],
    )  # fmt: skip
