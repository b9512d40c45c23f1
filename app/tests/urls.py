"""The project's URLs plus probe views that raise each kind of failure, for the envelope tests."""

from decimal import Decimal

from django.db import IntegrityError, OperationalError, connection, transaction
from django.urls import include, path
from rest_framework import generics, serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from app.models import Category
from app.permissions import IsAdmin
from app.utils import UnprocessableError
from ecommerce_backend.urls import handler400, handler403, handler404, handler500  # noqa: F401


class EchoSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=20)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))


class EchoView(APIView):
    """POST a valid body → 201 echoing it; an invalid one → 400."""

    permission_classes = [AllowAny]

    def post(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.data, status=201)


class RaiseView(APIView):
    """GET raises the exception named in the URL."""

    permission_classes = [AllowAny]
    exceptions = {
        "integrity": lambda: IntegrityError("duplicate key value violates unique constraint secret_idx"),
        "operational": lambda: OperationalError("could not connect to server at 10.0.0.5"),
        "runtime": lambda: RuntimeError("SELECT password FROM app_user -- secret detail"),
        "unprocessable": lambda: UnprocessableError("Rule broken", details={"max_price": ["too low"]}),
        "throttled": lambda: Throttled(wait=42),
    }

    def get(self, request, kind):
        raise self.exceptions[kind]()


class SleepView(APIView):
    """GET runs a query that outlasts the statement timeout (PostgreSQL)."""

    permission_classes = [AllowAny]

    def get(self, request):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")
        return Response({"slept": True})


class PrivateView(APIView):
    permission_classes = [IsAuthenticated & IsAdmin]

    def get(self, request):
        return Response({"secret": True})


class CategoryNameSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name"]


class CategoryListView(generics.ListCreateAPIView):
    """A paginated list (and a create that lets the database enforce uniqueness)."""

    permission_classes = [AllowAny]
    queryset = Category.objects.order_by("name")
    serializer_class = CategoryNameSerializer

    def perform_create(self, serializer):
        with transaction.atomic():  # as services do: a failed write leaves nothing behind
            serializer.save()

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        serializer.validators = []  # let the IntegrityError reach the handler
        return serializer


probe_patterns = [
    path("echo/", EchoView.as_view(), name="echo"),
    path("raise/<str:kind>/", RaiseView.as_view(), name="raise"),
    path("private/", PrivateView.as_view(), name="private"),
    path("sleep/", SleepView.as_view(), name="sleep"),
    path("categories/", CategoryListView.as_view(), name="categories"),
]

urlpatterns = [
    path("api/v1/_probe/", include((probe_patterns, "probe"))),
    path("", include("ecommerce_backend.urls")),
]
