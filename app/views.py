"""HTTP endpoints. Views only declare and delegate: queries live in models, writes in services."""

import hashlib

import orjson
from django.conf import settings
from django.utils.cache import add_never_cache_headers
from django.utils.http import parse_etags
from django.views.static import serve
from drf_yasg import openapi
from drf_yasg.utils import no_body, swagger_auto_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from app import services
from app.caching import category_tree
from app.filters import CategoryFilter, ProductFilter, ProductSearchFilter, UserFilter
from app.models import Category, CompiledSearch, Product, ProductImage, RowByPk, User
from app.permissions import IsAdmin, IsOwnerOrAdmin, IsSelfOrAdmin, IsSellerOrAdmin
from app.schema import envelope
from app.serializers import (
    AuthResultSerializer,
    CategorySerializer,
    CategoryWriteSerializer,
    HealthSerializer,
    ImageUploadSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    ProductImageSerializer,
    ProductSerializer,
    ProductWriteSerializer,
    ProfileSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserAdminSerializer,
    UserSerializer,
)
from app.throttling import AuthRateThrottle
from app.utils import PreconditionFailed, ServiceUnavailable


class HealthView(APIView):
    """Is the API able to serve? Checks the database and the cache."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []
    success_message = "Healthy"
    error_statuses = {"get": [503]}

    @swagger_auto_schema(
        operation_summary="Health check",
        operation_description="Anyone. 200 when the database and the cache answer; 503 naming what failed.",
        responses={200: HealthSerializer},
        tags=["health"],
    )
    def get(self, request):
        report = services.check_health()
        failing = [name for name, state in report.items() if state != "ok"]
        if failing:
            raise ServiceUnavailable(
                f"Unavailable: {', '.join(failing)}",
                details={name: [f"{name} is unreachable"] for name in failing},
            )
        return Response(report)


# ---------------------------------------------------------------------------
# Accounts
# ---------------------------------------------------------------------------


class PrivateMixin:
    """Responses about a user are never stored by browsers or shared caches."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response


class CredentialsEndpointMixin:
    """For endpoints that take credentials in the body: a stale Authorization header is ignored,
    and a failure is still a 401 with the Bearer challenge (DRF would make it 403 without one)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class RegisterView(CredentialsEndpointMixin, PrivateMixin, APIView):
    success_message = "User registered"
    error_statuses = {"post": [409]}

    @swagger_auto_schema(
        operation_summary="Register",
        operation_description="Anyone. role is customer (default) or seller. Duplicate email/username → 409.",
        request_body=RegisterSerializer,
        responses={201: AuthResultSerializer},
        tags=["auth"],
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        result = {"user": UserSerializer(user).data, "tokens": services.token_pair(user)}
        return Response(result, status=status.HTTP_201_CREATED)


class LoginView(CredentialsEndpointMixin, PrivateMixin, APIView):
    success_message = "Logged in"
    error_statuses = {"post": [401]}

    @swagger_auto_schema(
        operation_summary="Log in",
        operation_description="Anyone. Wrong email, wrong password and deactivated account: the same 401.",
        request_body=LoginSerializer,
        responses={200: AuthResultSerializer},
        tags=["auth"],
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_login(request=request, **serializer.validated_data)
        return Response({"user": UserSerializer(user).data, "tokens": services.token_pair(user)})


class RefreshView(CredentialsEndpointMixin, PrivateMixin, APIView):
    success_message = "Token refreshed"
    error_statuses = {"post": [401]}

    @swagger_auto_schema(
        operation_summary="Refresh tokens",
        operation_description="Holder of a refresh token. Returns a new pair; the old refresh token stops working.",
        request_body=RefreshSerializer,
        responses={200: TokenPairSerializer},
        tags=["auth"],
    )
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.token_refresh(raw_refresh=serializer.validated_data["refresh"]))


class LogoutView(PrivateMixin, APIView):
    permission_classes = [IsAuthenticated]
    success_message = "Logged out"

    @swagger_auto_schema(
        operation_summary="Log out",
        operation_description="Authenticated. The refresh token sent and the access token used both stop working.",
        request_body=RefreshSerializer,
        responses={200: openapi.Response("Logged out", envelope(None, nullable=True))},
        tags=["auth"],
    )
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.logout(user=request.user, raw_refresh=serializer.validated_data["refresh"], access_token=request.auth)
        return Response(None)


class ProfileView(PrivateMixin, APIView):
    permission_classes = [IsAuthenticated]
    success_message = {"PUT": "Profile updated", "PATCH": "Profile updated"}
    error_statuses = {"put": [409], "patch": [409]}

    @swagger_auto_schema(
        operation_summary="My profile",
        operation_description="Authenticated. The caller's own user.",
        responses={200: UserSerializer},
        tags=["auth"],
    )
    def get(self, request):
        return Response(UserSerializer(request.user).data)

    @swagger_auto_schema(
        operation_summary="Replace my profile",
        operation_description="username, first_name, last_name, email. Anything else is ignored. 409 on duplicates.",
        request_body=ProfileSerializer,
        responses={200: UserSerializer},
        tags=["auth"],
    )
    def put(self, request):
        return self._update(request, partial=False)

    @swagger_auto_schema(
        operation_summary="Update my profile",
        operation_description="Authenticated. As PUT, but only the fields sent. 409 on duplicates.",
        request_body=ProfileSerializer,
        responses={200: UserSerializer},
        tags=["auth"],
    )
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial):
        serializer = ProfileSerializer(request.user, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(user=request.user, data=dict(serializer.validated_data))
        return Response(UserSerializer(user).data)


class PasswordChangeView(PrivateMixin, APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [AuthRateThrottle]
    success_message = "Password changed"

    @swagger_auto_schema(
        operation_summary="Change my password",
        operation_description="Authenticated. Every other session ends; the response carries a new token pair.",
        request_body=PasswordChangeSerializer,
        responses={200: TokenPairSerializer},
        tags=["auth"],
    )
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        tokens = services.password_change(user=request.user, **serializer.validated_data)
        return Response(tokens)


class UserViewSet(
    PrivateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Users: admins list and deactivate; a user sees and edits themself; admins edit anyone."""

    queryset = User.objects.order_by("-date_joined", "id")
    filterset_class = UserFilter
    operation_docs = {
        "list": ("List users", "Admins only. Newest first; `?role=` and `?search=` (email or username)."),
        "retrieve": ("Get a user", "The user themself or an admin; anyone else gets 403."),
        "update": (
            "Replace a user",
            "The user themself (username, first_name, last_name, email) or an admin, who may also set "
            "role, is_premium and is_active. Fields a caller may not set are ignored.",
        ),
        "partial_update": ("Update a user", "As PUT, but only the fields sent."),
        "destroy": (
            "Deactivate a user",
            "Admins only. Nothing is erased: the account is deactivated, its tokens stop working and its "
            "products leave public listings. An admin cannot deactivate themself (422).",
        ),
    }
    error_statuses = {"update": [409, 422], "partial_update": [409, 422], "destroy": [422]}

    def get_permissions(self):
        if self.action in ("list", "destroy"):
            return [IsAdmin()]
        return [IsSelfOrAdmin()]

    def get_serializer_class(self):
        if self.request is not None and self.request.user.is_authenticated and self.request.user.is_admin:
            return UserAdminSerializer
        return ProfileSerializer if self.action in ("update", "partial_update") else UserSerializer

    def update(self, request, *args, **kwargs):
        user = self.get_object()
        serializer = self.get_serializer(user, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        services.user_update(user=user, data=dict(serializer.validated_data), actor=request.user)
        read_class = UserAdminSerializer if request.user.is_admin else UserSerializer
        return Response(read_class(user).data)

    def perform_destroy(self, instance):
        services.user_deactivate(actor=self.request.user, user=instance)


# ---------------------------------------------------------------------------
# Catalog
# ---------------------------------------------------------------------------


def representation_etag(data) -> str:
    """A strong ETag of what the client would receive: any visible change changes it."""
    payload = orjson.dumps(data, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return f'"{hashlib.sha256(payload).hexdigest()[:32]}"'


class ConditionalMixin:
    """`ETag` on reads, `If-None-Match` → 304, and `If-Match` on writes → 412 when stale."""

    def read_serializer(self, instance):
        return self.read_serializer_class(instance, context=self.get_serializer_context())

    def retrieve(self, request, *args, **kwargs):
        data = self.read_serializer(self.get_object()).data
        etag = representation_etag(data)
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag})

    def check_if_match(self, instance) -> None:
        header = self.request.headers.get("If-Match")
        if header is None or header.strip() == "*":
            return
        if representation_etag(self.read_serializer(instance).data) not in parse_etags(header):
            raise PreconditionFailed()

    def respond_with(self, instance, status_code=status.HTTP_200_OK):
        data = self.read_serializer(instance).data
        return Response(data, status=status_code, headers={"ETag": representation_etag(data)})


PRODUCT_LIST_ACTIONS = {"list", "search", "featured", "products"}
# What the public reads start from, built once; each request works on a copy (`.all()`).
PUBLIC_PRODUCT_ROWS = Product.objects.active().for_listing()
# An anonymous product detail: the same row by id, its SQL compiled once.
PUBLIC_PRODUCT_BY_PK = RowByPk(PUBLIC_PRODUCT_ROWS)
# A search of nothing but words (`?q=`): ranked, its pages' SQL compiled once.
PUBLIC_PRODUCT_SEARCH = CompiledSearch(PUBLIC_PRODUCT_ROWS)


class CategoryViewSet(ConditionalMixin, viewsets.ModelViewSet):
    """Categories, a tree: `{id}` is the UUID or the slug."""

    lookup_value_regex = "[^/]+"
    read_serializer_class = CategorySerializer
    resource_name = "Category"
    paginated_actions = ("products",)
    operation_docs = {
        "list": ("List categories", "Anyone. Ordered by name; `?parent=` (id or slug) and `?search=` (name)."),
        "create": ("Create a category", "Sellers and admins. The slug is made from the name; a taken name is 409."),
        "retrieve": ("Get a category", "Anyone. `{id}` is the UUID or the slug. Sends an ETag; If-None-Match → 304."),
        "update": (
            "Replace a category",
            "Sellers and admins. A parent that would make a cycle is 422; If-Match with a stale ETag is 412.",
        ),
        "partial_update": ("Update a category", "As PUT, but only the fields sent."),
        "destroy": ("Delete a category", "Admins only. A category with products or subcategories is kept: 409."),
        "products": (
            "Products of a category",
            "Anyone. Active products of this category and all below it; takes every product filter.",
        ),
    }
    error_statuses = {
        "create": [409],
        "update": [409, 412, 422],
        "partial_update": [409, 412, 422],
        "destroy": [409],
        "products": [422],
    }

    def get_queryset(self):
        return Category.objects.order_by("name", "id")

    @property
    def filterset_class(self):
        return ProductFilter if self.action == "products" else CategoryFilter

    def get_permissions(self):
        if self.action in ("list", "retrieve", "products"):
            return [AllowAny()]
        if self.action == "destroy":
            return [IsAdmin()]
        return [IsSellerOrAdmin()]

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return CategoryWriteSerializer
        if self.action == "products":
            return ProductSerializer
        return CategorySerializer

    def get_object(self):
        category = get_object_or_404(self.get_queryset().by_ref(self.kwargs["pk"]))
        self.check_object_permissions(self.request, category)
        return category

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = services.category_save(category=Category(), data=serializer.validated_data)
        return self.respond_with(category, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        category = self.get_object()
        self.check_if_match(category)
        serializer = self.get_serializer(category, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        category = services.category_save(category=category, data=serializer.validated_data)
        return self.respond_with(category)

    def perform_destroy(self, instance):
        services.category_delete(category=instance)

    @action(detail=True, methods=["get"])
    def products(self, request, pk=None):
        """Active products of this category and every category below it; takes every product filter."""
        category = self.get_object()
        subtree = category_tree().subtree(category.pk)
        queryset = self.filter_queryset(PUBLIC_PRODUCT_ROWS.all().in_categories(subtree))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(
            ProductSerializer(page, many=True, context=self.get_serializer_context()).data
        )


class ProductViewSet(ConditionalMixin, viewsets.ModelViewSet):
    """Products. Lists show active products of active sellers; a hidden product is 404 except to
    its seller and admins."""

    read_serializer_class = ProductSerializer
    resource_name = "Product"
    operation_docs = {
        "list": (
            "List products",
            "Anyone. Active products of active sellers, newest first; takes every filter below. "
            "`min_price` above `max_price` is 422.",
        ),
        "create": (
            "Create a product",
            "Sellers and admins. The caller becomes the seller; only admins may set is_featured. "
            "Same seller and name, or a taken SKU: 409.",
        ),
        "retrieve": (
            "Get a product",
            "Anyone. An inactive product is 404 except to its seller and admins. Sends an ETag; If-None-Match → 304.",
        ),
        "update": (
            "Replace a product",
            "Its seller or an admin (anyone else 403). If-Match with a stale ETag is 412.",
        ),
        "partial_update": (
            "Update a product",
            "As PUT, but only the fields sent. May send `stock_delta` instead of `stock`: applied atomically, "
            "and 422 when the stock would go below zero.",
        ),
        "destroy": ("Delete a product", "Its seller or an admin. Its image files are deleted too."),
        "search": (
            "Search products",
            "Anyone. `q` (or `search`) is required. Ranked by relevance (a name match before a description "
            "match, typos tolerated on PostgreSQL) unless `ordering` is given; takes every product filter.",
        ),
        "featured": ("Featured products", "Anyone. Takes every product filter."),
        "delete_image": ("Delete a product image", "Its seller or an admin. The image files are deleted too."),
    }
    error_statuses = {
        "list": [422],
        "search": [422],
        "featured": [422],
        "create": [409],
        "update": [409, 412, 422],
        "partial_update": [409, 412, 422],
        "images": [400, 413, 415, 422],
    }

    featured_rows = PUBLIC_PRODUCT_ROWS.featured()

    def get_queryset(self):
        # Reads work on rows; writes, images and permission checks on model instances.
        if self.action in PRODUCT_LIST_ACTIONS:
            return (self.featured_rows if self.action == "featured" else PUBLIC_PRODUCT_ROWS).all()
        products = Product.objects.visible_to(self.request.user)
        return products.for_listing() if self.action == "retrieve" else products

    def get_object(self):
        # The hot path, an anonymous detail: a public row by id, from SQL compiled once.
        if self.action == "retrieve" and not self.request.user.is_authenticated:
            row = PUBLIC_PRODUCT_BY_PK.get(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
            if row is None:
                raise NotFound()
            self.check_object_permissions(self.request, row)
            return row
        return super().get_object()

    def read_serializer(self, product):
        if not isinstance(product, dict):  # after a write: read it back as every reader sees it
            product = Product.objects.for_listing().get(pk=product.pk)
        return super().read_serializer(product)

    @property
    def filterset_class(self):
        return ProductSearchFilter if self.action == "search" else ProductFilter

    def filter_queryset(self, queryset):
        # Query filters belong to lists; a detail URL is not filtered by them. A list without
        # any filter parameter skips building a FilterSet (it deep-copies every filter), and so
        # does a search of nothing but words: its SQL is compiled once.
        if self.action not in PRODUCT_LIST_ACTIONS:
            return queryset
        if self.action == "search":  # `queryset` is PUBLIC_PRODUCT_ROWS, as PUBLIC_PRODUCT_SEARCH's
            terms = ProductSearchFilter.words_alone(self.request.query_params)
            return super().filter_queryset(queryset) if terms is None else PUBLIC_PRODUCT_SEARCH.search(terms)
        if not set(self.request.query_params) & set(self.filterset_class.base_filters):
            return queryset
        return super().filter_queryset(queryset)

    def get_permissions(self):
        if self.action in PRODUCT_LIST_ACTIONS or self.action == "retrieve":
            return [AllowAny()]
        if self.action == "create":
            return [IsSellerOrAdmin()]
        return [IsOwnerOrAdmin()]

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return ProductWriteSerializer
        if self.action == "images":
            return ImageUploadSerializer
        return ProductSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_save(
            product=Product(seller=request.user), data=serializer.validated_data, actor=request.user
        )
        return self.respond_with(product, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        product = self.get_object()
        self.check_if_match(product)
        serializer = self.get_serializer(product, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        services.product_save(product=product, data=serializer.validated_data, actor=request.user)
        return self.respond_with(product)

    def perform_destroy(self, instance):
        instance.delete()  # its images' files go once the deletion commits (signals.py)

    @action(detail=False, methods=["get"])
    def search(self, request):
        """Ranked search: `q` (or `search`) required; name matches before description matches."""
        return self.list(request)

    @action(detail=False, methods=["get"])
    def featured(self, request):
        """Featured products; takes every product filter."""
        return self.list(request)

    @swagger_auto_schema(
        operation_summary="Upload product images",
        operation_description="Its seller or an admin. Multipart: files under `images` (several) or `image`; "
        "JPEG, PNG, WebP or GIF, checked by decoding. Too big → 413; too many pixels → 400; "
        "more than the per-product limit → 422.",
        request_body=no_body,
        manual_parameters=[
            openapi.Parameter("images", openapi.IN_FORM, type=openapi.TYPE_FILE, description="One or more image files"),
            openapi.Parameter("image", openapi.IN_FORM, type=openapi.TYPE_FILE, description="A single image file"),
            openapi.Parameter("alt_text", openapi.IN_FORM, type=openapi.TYPE_STRING, description="Alternative text"),
        ],
        responses={201: ProductImageSerializer(many=True)},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def images(self, request, pk=None):
        """Upload images: multipart files under `images` (or `image`), optional `alt_text`."""
        product = self.get_object()
        serializer = ImageUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.product_images_add(
            product=product, files=serializer.validated_data["files"], alt_text=serializer.validated_data["alt_text"]
        )
        data = ProductImageSerializer(created, many=True, context=self.get_serializer_context()).data
        self.success_message = "Images uploaded"
        return Response(data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["delete"], url_path=r"images/(?P<image_id>[^/]+)")
    def delete_image(self, request, pk=None, image_id=None):
        """Delete one image of this product."""
        product = self.get_object()
        image = get_object_or_404(ProductImage.objects.filter(product=product), pk=image_id)
        services.product_image_delete(image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------
# Fallbacks
# ---------------------------------------------------------------------------


class ApiNotFoundView(APIView):
    """Any URL under /api/ that matches no endpoint: a 404 in the envelope, whatever the method
    (rate-limited like the rest, so probing for URLs is not free)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    swagger_schema = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound("No endpoint at this URL.")


def serve_media(request, path):
    """User uploads, served inert: never sniffed, never run as a page, never framed."""
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = f'inline; filename="{path.rsplit("/", 1)[-1]}"'
    return response
