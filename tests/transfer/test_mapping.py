import pytest

from transfer.mapping import (
    Target,
    guess_mapping,
    mapped_row,
    missing_required,
    normalised,
    remember_mapping,
    remembered_mapping,
)
from transfer.models import SavedMapping

TARGETS = [
    Target("email", "E-mail", ("correo", "correo electronico", "email address")),
    Target("name", "First name", ("nombre", "first name")),
    Target("surname", "Last name", ("apellidos", "apellido")),
    Target("phone", "Phone", ("telefono", "movil", "mobile number")),
    Target("birth_date", "Birth date", ("fecha de nacimiento", "birthday"), kind="date"),
    Target("total", "Total", ("importe",), required=True, kind="decimal"),
]


def test_headers_are_compared_without_accents_case_or_punctuation():
    assert normalised("  Teléfono_MÓVIL ") == "telefono movil"


def test_it_guesses_spanish_and_english_headers():
    headers = ["Correo Electrónico", "NOMBRE", "Apellidos", "Teléfono móvil", "Fecha de nacimiento", "Observaciones"]
    assert guess_mapping(headers, TARGETS) == {
        "Correo Electrónico": "email",
        "NOMBRE": "name",
        "Apellidos": "surname",
        "Teléfono móvil": "phone",
        "Fecha de nacimiento": "birth_date",
        "Observaciones": "",
    }


def test_each_meaning_goes_to_one_column_only():
    guess = guess_mapping(["Email", "Client email address"], TARGETS)
    assert guess == {"Email": "email", "Client email address": ""}


def test_a_required_meaning_left_unmapped_is_named():
    assert [t.name for t in missing_required({"Email": "email"}, TARGETS)] == ["total"]
    assert mapped_row({"Email": "a@b.es", "X": "1"}, {"Email": "email", "X": ""}) == {"email": "a@b.es"}


@pytest.mark.django_db
def test_a_corrected_mapping_is_remembered_for_the_next_file_from_the_same_source(admin_user):
    headers = ["Mail", "Nom"]
    assert remembered_mapping(source="Recepción", resource="clients", headers=headers, targets=TARGETS) == {
        "Mail": "", "Nom": "",
    }  # fmt: skip
    remember_mapping(source="Recepción", resource="clients", mapping={"Mail": "email", "Nom": "name"}, actor=admin_user)
    again = remembered_mapping(
        source="recepcion", resource="clients", headers=["NOM", "Mail", "Apellidos"], targets=TARGETS
    )
    assert again == {"NOM": "name", "Mail": "email", "Apellidos": "surname"}
    assert SavedMapping.objects.get().updated_by == admin_user
    other = remembered_mapping(source="Otra", resource="clients", headers=headers, targets=TARGETS)
    assert other == {"Mail": "", "Nom": ""}


def test_cells_are_read_as_they_will_be_stored():
    from datetime import date
    from decimal import Decimal

    from transfer.mapping import preview, read_cell

    total, birth = TARGETS[5], TARGETS[4]
    assert read_cell(total, "12,50") == Decimal("12.50")
    assert read_cell(birth, "03/04/1990") == date(1990, 4, 3)
    assert read_cell(TARGETS[0].__class__("email", "E-mail", kind="email"), " Ana@Example.ES ") == "ana@example.es"
    shown = preview([{"Importe": "doce", "Nombre": "Ana"}], {"Importe": "total", "Nombre": "name"}, TARGETS)
    assert shown[0][0][1] == "“doce” is not an amount."
    assert shown[0][1] == ("Ana", "")


def test_the_mapping_form_refuses_a_field_twice_and_a_required_one_missing():
    from transfer.mapping import ColumnMappingForm

    headers = ["Importe", "Total"]
    twice = ColumnMappingForm({"column_0": "total", "column_1": "total"}, headers=headers, targets=TARGETS)
    assert not twice.is_valid()
    assert "chosen for two columns" in str(twice.non_field_errors())
    none = ColumnMappingForm({"column_0": "", "column_1": ""}, headers=headers, targets=TARGETS)
    assert not none.is_valid() and "Choose a column for: Total" in str(none.non_field_errors())
    good = ColumnMappingForm({"column_0": "", "column_1": "total"}, headers=headers, targets=TARGETS)
    assert good.is_valid() and good.mapping == {"Importe": "", "Total": "total"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "sees", "deletes"),
    [("admin_user", 200, True), ("manager_user", 200, True), ("staff_user", 403, False), ("outsider", 302, False),
     (None, 302, False)],
)  # fmt: skip
def test_remembered_mappings_are_seen_and_forgotten_by_who_imports(client, request, persona, sees, deletes):
    from django.urls import reverse

    from tests.factories import SavedMappingFactory

    saved = SavedMappingFactory()
    if persona:
        client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("admin:transfer_savedmapping_changelist")).status_code == sees
    client.post(reverse("admin:transfer_savedmapping_delete", args=[saved.pk]), {"post": "yes"})
    assert SavedMapping.objects.filter(pk=saved.pk).exists() is not deletes
    assert client.get(reverse("admin:transfer_savedmapping_change", args=["nope"])).status_code in (302, 403, 404)
