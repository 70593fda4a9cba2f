from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import serializers

from beils.lib.api import ActiveStatusField, ModelConstraintsMixin
from beils.lib.models import Status
from crm.models import Client, Consent, ConsentStatus, Questionnaire, Revoke, User


class UserSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    """A staff account. The password is write-only: required to create, optional to change."""

    status = ActiveStatusField()
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = [
            "id", "email", "name", "surname", "phone", "role", "status", "password",
            "is_active", "last_login", "created_at", "updated_at", "deactivated_at",
        ]  # fmt: skip
        read_only_fields = ["is_active", "last_login", "created_at", "updated_at", "deactivated_at"]

    def validate_email(self, value: str) -> str:
        value = value.strip().lower()
        others = User.all_objects.filter(email__iexact=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(_("A user with this email already exists."))
        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)
        password = attrs.get("password")
        if self.instance is None and not password:
            raise serializers.ValidationError({"password": [_("A new user needs a password.")]})
        if password:
            # The validators compare the password with the user's own name and email.
            probe = self.instance or User(**{k: v for k, v in attrs.items() if k != "password"})
            try:
                password_validation.validate_password(password, probe)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"password": error.messages}) from error
        return attrs

    def create(self, validated_data):
        password = validated_data.pop("password")
        return User.all_objects.create_user(password=password, **validated_data)

    def update(self, instance, validated_data):
        password = validated_data.pop("password", None)
        if password:
            instance.set_password(password)
        return super().update(instance, validated_data)


class ClientSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    """A client. ``document_number`` is masked in lists, and on single records for anyone who
    may not change clients."""

    status = ActiveStatusField()

    class Meta:
        model = Client
        fields = [
            "id", "name", "surname", "email", "phone", "address", "city", "postal_code", "country", "gender",
            "birth_date", "document_type", "document_number", "notes", "status", "created_at", "updated_at",
            "deactivated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at", "deactivated_at"]
        # validate_email checks uniqueness itself, first for a deactivated owner (the generic
        # unique check would answer first on MariaDB, whose collation ignores case).
        extra_kwargs = {"email": {"validators": []}}

    def validate_email(self, value):
        # Mirrors crm.admin.ClientForm.clean_email: a deactivated client keeps its email (MariaDB
        # has no partial unique index), so creating a duplicate offers reactivation instead.
        value = (value or "").strip().lower() or None
        if value:
            others = Client.all_objects.filter(email__iexact=value)
            if self.instance is not None:
                others = others.exclude(pk=self.instance.pk)
            other = others.first()
            if other is not None and other.status == Status.OFF:
                raise serializers.ValidationError(
                    _(
                        "A deactivated client, %(client)s (id %(id)s), already has this email. Reactivate them "
                        '(PATCH /api/clients/%(id)s with {"status": "ON"}) instead of creating a duplicate.'
                    )
                    % {"client": other, "id": other.pk}
                )
            if other is not None:
                raise serializers.ValidationError(_("A client with this email already exists."))
        return value

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if "document_number" in data and not self._shows_full_document():
            data["document_number"] = instance.masked_document or None
        return data

    def _shows_full_document(self) -> bool:
        view, request = self.context.get("view"), self.context.get("request")
        if view is None or request is None or getattr(view, "action", None) == "list":
            return False
        return request.user.has_perm("crm.change_client")


class ConsentSerializer(ModelConstraintsMixin, serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = [
            "id", "client", "kind", "status", "signed_at", "document_url", "document", "notes", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    def validate(self, attrs):
        status = attrs.get("status", getattr(self.instance, "status", None))
        if status == ConsentStatus.SIGNED and not attrs.get("signed_at", getattr(self.instance, "signed_at", None)):
            raise serializers.ValidationError({"signed_at": [_("A signed consent needs the date it was signed.")]})
        return super().validate(attrs)


class RevokeSerializer(serializers.ModelSerializer):
    """Recording a revocation revokes the consent in the same transaction."""

    consent = serializers.PrimaryKeyRelatedField(queryset=Consent.objects.select_related("client"))
    client = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Revoke
        fields = ["id", "client", "consent", "reason", "revoked_at", "created_at"]
        read_only_fields = ["created_at"]

    def validate_consent(self, consent):
        if consent.status == ConsentStatus.REVOKED:
            raise serializers.ValidationError(_("This consent is already revoked."))
        return consent

    def create(self, validated_data):
        consent = validated_data["consent"]
        return consent.revoke(validated_data.get("reason") or "", when=validated_data.get("revoked_at"))


class QuestionnaireSerializer(serializers.ModelSerializer):
    answers = serializers.JSONField(required=False)

    class Meta:
        model = Questionnaire
        fields = ["id", "client", "title", "answers", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_answers(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Answers are an object of question: answer."))
        return value
