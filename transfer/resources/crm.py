"""Import/export of staff accounts and clients (and their consents and questionnaires).

Staff and clients are matched by email; password hashes are never exported, and a staff account
created by an import has no usable password (its owner sets one with "forgot password").
"""

from import_export import fields

from crm.models import Client, Consent, Questionnaire, Revoke, User
from transfer.resources.base import BeilsResource, SoftDeleteResource
from transfer.resources.fields import DateTimeWidget, EmailWidget, id_fk, natural_fk, read_only


def email_field(attribute="email", column="Email"):
    return fields.Field(attribute=attribute, column_name=column, widget=EmailWidget())


class UserResource(SoftDeleteResource):
    # The salon's old CSV had exactly these first five columns.
    email = email_field()
    last_login = read_only("last_login", widget=DateTimeWidget())

    class Meta(BeilsResource.Meta):
        model = User
        fields = (
            "id",
            "email",
            "name",
            "role",
            "status",
            "surname",
            "phone",
            "created_at",
            "deactivated_at",
            "last_login",
        )
        import_id_fields = ["email"]
        # Row by row: saving a user also puts them in their role's group.
        use_bulk = False

    def after_init_instance(self, instance, new, row, **kwargs):
        if new:
            instance.set_unusable_password()


class ClientResource(SoftDeleteResource):
    email = email_field()

    class Meta(BeilsResource.Meta):
        model = Client
        fields = (
            "id",
            "email",
            "name",
            "surname",
            "phone",
            "address",
            "postal_code",
            "city",
            "country",
            "gender",
            "birth_date",
            "document_type",
            "document_number",
            "notes",
            "status",
            "legacy_id",
            "created_at",
            "deactivated_at",
        )
        import_id_fields = ["email"]

    def get_instance(self, instance_loader, row):
        # A client without email is matched by the ID of this database's own export, and only if
        # that row has no email and the same name: re-importing an export must not duplicate them.
        if row.get("Email") in (None, "") and str(row.get("ID") or "").strip().isdigit():
            return Client.all_objects.filter(pk=int(row["ID"]), email__isnull=True, name=row.get("Name")).first()
        return super().get_instance(instance_loader, row)


def client_fk():
    return natural_fk("client", Client, "email", column="Client email", lower=True)


class ConsentResource(BeilsResource):
    client = client_fk()

    class Meta(BeilsResource.Meta):
        model = Consent
        fields = ("id", "client", "kind", "status", "signed_at", "document_url", "document", "notes", "created_at")


class RevokeResource(BeilsResource):
    client = client_fk()
    consent = id_fk("consent", Consent)

    class Meta(BeilsResource.Meta):
        model = Revoke
        fields = ("id", "client", "consent", "reason", "revoked_at", "created_at")


class QuestionnaireResource(BeilsResource):
    client = client_fk()

    class Meta(BeilsResource.Meta):
        model = Questionnaire
        fields = ("id", "client", "title", "answers", "created_at")
