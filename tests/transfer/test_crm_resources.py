"""Importing and exporting staff and clients: headers, escaping, Excel's CSV dialects, the CLI."""

import hashlib
import io

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEntry
from beils.lib.formats import CSV, XLSX
from crm.models import Client, Role, User
from tests import factories as f
from transfer.resources.crm import ClientResource, UserResource

pytestmark = pytest.mark.django_db


def _messages(result):
    return " ".join(
        [str(e.error) for e in result.base_errors] + [str(e.error) for _, errors in result.row_errors() for e in errors]
    )


def test_users_export_with_the_old_csv_columns_first_and_never_a_password():
    f.UserFactory(email="ana@salon.example", name="Ana", role=Role.MANAGER)

    data = CSV().export_data(UserResource().export())

    assert data.splitlines()[0].startswith("ID,Email,Name,Role,Status,")
    assert "password" not in data.lower()
    assert "md5$" not in data and "pbkdf2" not in data


def test_an_imported_user_cannot_log_in_until_they_set_a_password():
    result = UserResource().import_data(CSV().create_dataset(b"Email,Name,Role\nNew@Salon.example,Nuria,STAFF\n"))

    assert not result.has_errors(), _messages(result)
    user = User.all_objects.get(email="new@salon.example")
    assert not user.has_usable_password()
    assert user.groups.get().name == "Staff"


def test_a_client_named_like_a_formula_is_escaped_in_csv_and_xlsx():
    f.ClientFactory(name='=HYPERLINK("http://evil.example","Click")')

    csv_text = CSV().export_data(ClientResource().export())
    workbook = openpyxl.load_workbook(io.BytesIO(XLSX().export_data(ClientResource().export(force_native_type=True))))
    cell = workbook.active.cell(row=2, column=3)

    assert '"\'=HYPERLINK(""http://evil.example"",""Click"")"' in csv_text
    assert cell.value == '\'=HYPERLINK("http://evil.example","Click")'
    assert cell.data_type == "s"  # text, not a formula


def test_a_formula_name_round_trips_through_xlsx():
    f.ClientFactory(email="evil@mail.example", name="=1+1")
    data = XLSX().export_data(ClientResource().export(force_native_type=True))
    Client.all_objects.all().delete()

    result = ClientResource().import_data(XLSX().create_dataset(data))

    assert not result.has_errors(), _messages(result)
    assert Client.all_objects.get(email="evil@mail.example").name == "=1+1"


@pytest.mark.parametrize(
    "raw",
    [
        "\ufeffEmail,Name,City\r\nbom@mail.example,Begoña,Lugo\r\n".encode(),
        "Email;Name;City\r\nbom@mail.example;Begoña;Lugo\r\n".encode(),
        "\ufeffemail;name;city\r\nbom@mail.example;Begoña;Lugo\r\n".encode(),
    ],
    ids=["bom-comma", "semicolon", "bom-semicolon-lowercase-headers"],
)
def test_excel_csv_dialects_import(raw):
    result = ClientResource().import_data(CSV().create_dataset(raw))

    assert not result.has_errors(), _messages(result)
    assert Client.all_objects.get(email="bom@mail.example").city == "Lugo"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"Email,Name\r\nok@mail.example,Ok\r\nnot-an-email,Bad\r\n", "Email: Enter a valid email address."),
        (b"Name,City\r\nAna,Lugo\r\n", "Missing required column(s): Email."),
        (b"", "The file is empty"),
    ],
    ids=["bad-email", "missing-column", "empty-file"],
)
def test_bad_client_files_write_nothing(raw, message):
    before = Client.all_objects.count()

    result = ClientResource().import_data(CSV().create_dataset(raw))

    assert result.has_errors()
    assert message in _messages(result)
    assert Client.all_objects.count() == before


def test_a_binary_file_is_refused_before_anything_is_read():
    with pytest.raises(CommandError, match="binary file"):
        CSV().create_dataset(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def test_every_import_is_audited_with_the_checksum_of_the_file():
    raw = b"Email,Name\r\nana@mail.example,Ana\r\n"

    ClientResource(actor="tester").import_data(CSV().create_dataset(raw), file_name="clients.csv")

    entry = AuditEntry.objects.for_action("maintenance.import.done").get()
    assert (entry.actor_label, entry.outcome) == ("tester", "SUCCESS")
    assert entry.detail["sha256"] == hashlib.sha256(raw).hexdigest()
    assert (entry.detail["model"], entry.detail["rows"], entry.detail["new"]) == ("crm.Client", 1, 1)
    assert entry.detail["format"] == "csv"


def test_the_export_and_import_commands_work_with_the_dotted_resource(tmp_path, capsysbinary):
    f.ClientFactory(email="cli@mail.example", name="-Cli")
    call_command("export", "beils.lib.formats.CSV", "transfer.resources.crm.ClientResource")
    exported = capsysbinary.readouterr().out
    assert b"'-Cli" in exported
    Client.all_objects.all().delete()
    path = tmp_path / "clients.csv"
    path.write_bytes(exported)

    call_command(
        "import", "transfer.resources.crm.ClientResource", str(path), "--format", "beils.lib.formats.CSV", "--noinput"
    )

    assert Client.all_objects.get(email="cli@mail.example").name == "-Cli"
    entry = AuditEntry.objects.for_action("maintenance.import.done").get()
    assert entry.detail["sha256"] == hashlib.sha256(exported).hexdigest()
    assert entry.actor_label.startswith("command line")
    assert AuditEntry.objects.for_action("maintenance.export.done").get().detail["sha256"] == entry.detail["sha256"]


def test_the_import_command_exits_non_zero_and_writes_nothing_on_an_invalid_row(tmp_path, capsys):
    path = tmp_path / "clients.csv"
    path.write_bytes(b"Email;Name\r\nok@mail.example;Ok\r\nnot-an-email;Bad\r\n")

    with pytest.raises(SystemExit) as exit_:
        call_command(
            "import",
            "transfer.resources.crm.ClientResource",
            str(path),
            "--format",
            "beils.lib.formats.CSV",
            "--noinput",
        )

    assert exit_.value.code == 1
    assert "Enter a valid email address" in capsys.readouterr().err
    assert not Client.all_objects.exists()
    assert AuditEntry.objects.for_action("maintenance.import.failed").get().outcome == "FAILURE"


def test_re_importing_an_export_changes_nothing():
    f.ClientFactory.create_batch(3)
    f.ClientFactory(email=None, name="Walk-in regular")
    data = CSV().export_data(ClientResource().export())

    result = ClientResource().import_data(CSV().create_dataset(data.encode()))

    assert not result.has_errors(), _messages(result)
    assert (result.totals["new"], result.totals["update"], result.totals["skip"]) == (0, 0, 4)
    assert Client.all_objects.count() == 4


def test_deactivated_clients_are_exported_and_updated_not_duplicated():
    client = f.ClientFactory(email="gone@mail.example", name="Old")
    client.deactivate()
    data = CSV().export_data(ClientResource().export())
    assert "gone@mail.example" in data

    result = ClientResource().import_data(CSV().create_dataset(b"Email,Name,Status\r\ngone@mail.example,New,OFF\r\n"))

    assert not result.has_errors(), _messages(result)
    assert Client.all_objects.get(email="gone@mail.example").name == "New"


def test_every_duplicate_and_invalid_client_row_is_named_in_one_pass_and_nothing_is_written():
    f.ClientFactory(email="held@mail.example", name="Stored")
    raw = (
        b"Email,Name\r\n"
        b"ana@mail.example,Ana\r\n"  # 1
        b"bea@mail.example,Bea\r\n"  # 2
        b"ANA@mail.example,Ana again\r\n"  # 3: row 1's email in other letters
        b"not-an-email,Bad\r\n"  # 4
        b"bea@mail.example,Bea again\r\n"  # 5
        b"held@mail.example,Held\r\n"  # 6: an update of the stored client, fine
        b"held@mail.example,Held twice\r\n"  # 7: but not twice
    )

    result = ClientResource().import_data(CSV().create_dataset(raw))

    errors = {number: " ".join(str(e.error) for e in row_errors) for number, row_errors in result.row_errors()}
    assert sorted(errors) == [3, 4, 5, 7], errors
    assert "is on rows 1 and 3" in errors[3]
    assert "Enter a valid email address" in errors[4]
    assert "is on rows 2 and 5" in errors[5]
    assert "is on rows 6 and 7" in errors[7]
    assert list(Client.all_objects.values_list("email", "name")) == [("held@mail.example", "Stored")]
