"""Serializers: how the API's objects look on the wire (contract sections 2-4).

Read serializers say what a client sees; write serializers say what a client may send and
validate it. Uniqueness (409) is decided in services, where the database has the last word.
"""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from app.models import User


class HealthSerializer(serializers.Serializer):
    """What `GET health/` reports: "ok" or "failing" per dependency."""

    database = serializers.ChoiceField(choices=["ok", "failing"])
    cache = serializers.ChoiceField(choices=["ok", "failing"])


# ---------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    """A user as the API shows it. No password, no staff flags."""

    class Meta:
        model = User
        fields = ["id", "email", "username", "first_name", "last_name", "role", "is_premium", "date_joined"]
        read_only_fields = fields


class UserAdminSerializer(serializers.ModelSerializer):
    """A user as an admin sees and edits it: also role, premium tier and whether it is active."""

    username = serializers.CharField(max_length=150, validators=[User.username_validator])

    class Meta:
        model = User
        fields = [*UserSerializer.Meta.fields, "is_active"]
        read_only_fields = ["id", "date_joined"]
        # Uniqueness is answered with 409 by the service, not 400 by a validator.
        extra_kwargs = {"email": {"validators": []}}


class ProfileSerializer(serializers.ModelSerializer):
    """What a user may change about themself. Anything else sent (role, is_premium...) is ignored."""

    username = serializers.CharField(max_length=150, validators=[User.username_validator])

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email"]
        extra_kwargs = {"email": {"validators": []}}


def _validate_password(password: str, user: User) -> str:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(list(exc.messages)) from None
    return password


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    username = serializers.CharField(max_length=150, validators=[User.username_validator])
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(
        choices=[User.Role.CUSTOMER, User.Role.SELLER],
        default=User.Role.CUSTOMER,
        help_text="customer (default) or seller; admin accounts are made by admins only.",
    )

    def validate(self, attrs):
        candidate = User(
            email=attrs["email"],
            username=attrs["username"],
            first_name=attrs["first_name"],
            last_name=attrs["last_name"],
        )
        try:
            _validate_password(attrs["password"], candidate)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"password": exc.detail}) from None
        return attrs


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Access token for `Authorization: Bearer`; lives 15 minutes.")
    refresh = serializers.CharField(help_text="Refresh token, single use; lives 7 days.")


class AuthResultSerializer(serializers.Serializer):
    """What register and login return."""

    user = UserSerializer()
    tokens = TokenPairSerializer()


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=2048)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})
    new_password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})

    def validate_new_password(self, value):
        return _validate_password(value, self.context["request"].user)
