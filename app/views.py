"""HTTP endpoints. Views only declare and delegate: queries live in models, writes in services."""

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from django.views.static import serve
from drf_yasg.utils import swagger_auto_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from app import services
from app.filters import UserFilter
from app.models import User
from app.permissions import IsAdmin, IsSelfOrAdmin
from app.serializers import (
    AuthResultSerializer,
    HealthSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    ProfileSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserAdminSerializer,
    UserSerializer,
)
from app.throttling import AuthRateThrottle
from app.utils import ServiceUnavailable


class HealthView(APIView):
    """Is the API able to serve? Checks the database and the cache."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []
    success_message = "Healthy"

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
        responses={200: "Logged out; data is null"},
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

    @swagger_auto_schema(operation_summary="My profile", responses={200: UserSerializer}, tags=["auth"])
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

    def get_permissions(self):
        if self.action in ("list", "destroy"):
            return [IsAdmin()]
        return [IsSelfOrAdmin()]

    def get_serializer_class(self):
        if self.request is not None and self.request.user.is_authenticated and self.request.user.is_admin:
            return UserAdminSerializer
        return ProfileSerializer if self.action in ("update", "partial_update") else UserSerializer

    def perform_update(self, serializer):
        services.user_update(user=serializer.instance, data=dict(serializer.validated_data))

    def update(self, request, *args, **kwargs):
        super().update(request, *args, **kwargs)
        user = self.get_object()
        serializer_class = UserAdminSerializer if request.user.is_admin else UserSerializer
        return Response(serializer_class(user).data)

    def perform_destroy(self, instance):
        services.user_deactivate(actor=self.request.user, user=instance)


# ---------------------------------------------------------------------------
# Fallbacks
# ---------------------------------------------------------------------------


class ApiNotFoundView(APIView):
    """Any URL under /api/ that matches no endpoint: a 404 in the envelope, whatever the method."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []
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
