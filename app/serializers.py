"""Serializers: how the API's objects look on the wire (contract sections 2-4).

Read serializers say what a client sees; write serializers say what a client may send and
validate it. Uniqueness (409) is decided in services, where the database has the last word.
"""

import uuid
from decimal import Decimal

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.functional import cached_property
from drf_yasg.utils import swagger_serializer_method
from rest_framework import serializers

from app.models import Category, Product, ProductImage, User


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

    class Meta:
        swagger_schema_fields = {
            "example": {
                "email": "ada@example.com",
                "username": "ada",
                "password": "pl4id-Unicorn-rides",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "role": "seller",
            }
        }

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

    class Meta:
        swagger_schema_fields = {"example": {"email": "ada@example.com", "password": "pl4id-Unicorn-rides"}}


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


# ---------------------------------------------------------------------------
# Categories
# ---------------------------------------------------------------------------


class CategoryRefField(serializers.RelatedField):
    """A category written by its UUID or its slug."""

    default_error_messages = {"does_not_exist": "No category with this id or slug.", "invalid": "Invalid value."}

    def __init__(self, **kwargs):
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Category.objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str | uuid.UUID) or not str(data).strip():
            self.fail("invalid")
        category = self.get_queryset().by_ref(str(data).strip()).first()
        if category is None:
            self.fail("does_not_exist")
        return category

    def to_representation(self, value):
        return {"id": str(value.pk), "name": value.name, "slug": value.slug}


class CategorySerializer(serializers.ModelSerializer):
    """A category; `product_count` counts active products here and in every descendant."""

    parent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    product_count = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "description", "parent", "product_count", "created_at", "updated_at"]
        read_only_fields = fields

    def get_product_count(self, category) -> int:
        counts = self.context.get("product_counts")
        if counts is None:  # a single category outside a list: count it alone
            counts = Category.objects.product_counts()
            self.context["product_counts"] = counts
        return counts.get(category.pk, 0)


class CategoryWriteSerializer(serializers.ModelSerializer):
    """What a seller or admin sends; the slug is made from the name."""

    parent = CategoryRefField(required=False, allow_null=True, help_text="Parent category id or slug, or null.")

    class Meta:
        model = Category
        fields = ["name", "description", "parent"]
        extra_kwargs = {"description": {"max_length": 5000}}


# ---------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------


class CategoryBriefSerializer(serializers.ModelSerializer):
    """A product's category on read: `{id, name, slug}`."""

    class Meta:
        model = Category
        fields = ["id", "name", "slug"]
        read_only_fields = fields


class SellerSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]
        read_only_fields = fields


class ProductImageSerializer(serializers.ModelSerializer):
    """An image: the stored upload and its WebP renditions (null until the worker has made them)."""

    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    medium_url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["id", "url", "thumbnail_url", "medium_url", "alt_text", "position"]
        read_only_fields = fields

    def _absolute(self, file) -> str | None:
        return _absolute_url_builder(self.context.get("request"))(file)

    @swagger_serializer_method(serializers.URLField())
    def get_url(self, image):
        return self._absolute(image.image)

    @swagger_serializer_method(serializers.URLField(allow_null=True, help_text="320 px WebP; null until made"))
    def get_thumbnail_url(self, image):
        return self._absolute(image.thumbnail)

    @swagger_serializer_method(serializers.URLField(allow_null=True, help_text="800 px WebP; null until made"))
    def get_medium_url(self, image):
        return self._absolute(image.medium)


class ProductListSerializer(serializers.ListSerializer):
    """A page of product rows: the images of the whole page come with one query."""

    def to_representation(self, data):
        rows = list(data)
        images = {} if rows and "images" in rows[0] else ProductImage.objects.of_products([row["id"] for row in rows])
        return [self.child.represent(row, images.get(row["id"], ())) for row in rows]


class ProductSerializer(serializers.ModelSerializer):
    """A product as every client sees it, from a row of `Product.objects.for_listing()`."""

    price = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=True, read_only=True)
    in_stock = serializers.BooleanField(read_only=True)
    category = CategoryBriefSerializer(read_only=True)
    seller = SellerSerializer(read_only=True)
    images = ProductImageSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "slug",
            "sku",
            "description",
            "price",
            "stock",
            "in_stock",
            "is_featured",
            "is_active",
            "category",
            "seller",
            "images",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        list_serializer_class = ProductListSerializer

    def to_representation(self, row):
        images = () if "images" in row else ProductImage.objects.of_products([row["id"]]).get(row["id"], ())
        return self.represent(row, images)

    @cached_property
    def _absolute_url(self):
        return _absolute_url_builder(self.context.get("request"))

    @cached_property
    def _zone(self):
        """The current time zone, looked up once per serializer (once per page), not per row."""
        return timezone.get_current_timezone()

    def represent(self, row, images):
        """The hot path of every product read, written out: the same output as the declared
        fields (which still drive the schema; a test compares the two) from plain rows, without
        model instances or DRF fields per object — most of a list request's time otherwise.
        `images` are the product's image rows, unless the row carries them (PostgreSQL)."""
        if "images" in row:
            images = row["images"] or ()
        absolute, zone = self._absolute_url, self._zone
        return {
            "id": str(row["id"]),
            "name": row["name"],
            "slug": row["slug"],
            "sku": row["sku"],
            "description": row["description"],
            "price": f"{row['price']:.2f}",
            "stock": row["stock"],
            "in_stock": row["stock"] > 0,
            "is_featured": row["is_featured"],
            "is_active": row["is_active"],
            "category": {"id": str(row["category_id"]), "name": row["category__name"], "slug": row["category__slug"]},
            "seller": {"id": str(row["seller_id"]), "username": row["seller__username"]},
            "images": [
                {
                    "id": str(image["id"]),
                    "url": absolute(image["image"]),
                    "thumbnail_url": absolute(image["thumbnail"]),
                    "medium_url": absolute(image["medium"]),
                    "alt_text": image["alt_text"],
                    "position": image["position"],
                }
                for image in images
            ],
            "created_at": _iso(row["created_at"], zone),
            "updated_at": _iso(row["updated_at"], zone),
        }


def _iso(value, zone) -> str:
    """A datetime as DRF's DateTimeField writes it (ISO 8601 in the current time zone `zone`,
    UTC as "Z")."""
    text = value.astimezone(zone).isoformat() if value.utcoffset() is not None else value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _absolute_url_builder(request):
    """A function from a stored file (a FieldFile, or its name as a row holds it) to its absolute
    URL, or None when there is no file."""

    def absolute(file):
        if not file:
            return None
        url = file.url if hasattr(file, "url") else default_storage.url(file)
        return request.build_absolute_uri(url) if request is not None else url

    return absolute


class ProductWriteSerializer(serializers.ModelSerializer):
    """What a seller or admin sends. `is_featured` counts only from admins; `stock_delta` only on PATCH."""

    category = CategoryRefField(help_text="Category id or slug.")
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))
    stock = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)
    sku = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    stock_delta = serializers.IntegerField(
        required=False,
        write_only=True,
        min_value=-2_147_483_647,
        max_value=2_147_483_647,
        help_text="PATCH only: add to (or, negative, take from) the stock atomically; below 0 → 422.",
    )

    class Meta:
        model = Product
        fields = ["name", "sku", "description", "price", "stock", "stock_delta", "is_featured", "is_active", "category"]
        # Uniqueness (seller + name, SKU) is a 409 from the service, not a 400 from a validator.
        validators = []
        extra_kwargs = {"sku": {"validators": []}}
        swagger_schema_fields = {
            "example": {
                "name": "Blue Phone",
                "sku": "BP-1",
                "description": "A 6.1-inch smartphone with a very blue case.",
                "price": "199.00",
                "stock": 5,
                "category": "smartphones",
            }
        }

    def validate(self, attrs):
        if "stock_delta" in attrs:
            if self.instance is None or not self.partial:
                raise serializers.ValidationError({"stock_delta": ["Only a PATCH of an existing product takes it."]})
            if "stock" in attrs:
                raise serializers.ValidationError({"stock_delta": ["Send stock or stock_delta, not both."]})
        return attrs


class ImageUploadSerializer(serializers.Serializer):
    """Multipart: one or more files under `images` (or one under `image`), and an optional `alt_text`."""

    images = serializers.ListField(child=serializers.FileField(), required=False, allow_empty=True)
    image = serializers.FileField(required=False)
    alt_text = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        files = list(attrs.get("images") or [])
        if attrs.get("image"):
            files.append(attrs["image"])
        if not files:
            raise serializers.ValidationError({"images": ["Send at least one file under images (or image)."]})
        attrs["files"] = files
        return attrs
