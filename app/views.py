"""HTTP endpoints. Views only declare and delegate: queries live in models, writes in services."""

from django.conf import settings
from django.views.static import serve
from drf_yasg.utils import swagger_auto_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from app import services
from app.serializers import HealthSerializer
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
