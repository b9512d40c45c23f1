"""Root URLs: the API under /api/v1/, its docs, Django admin, and (optionally) media."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_yasg import openapi
from drf_yasg.views import get_schema_view
from rest_framework.permissions import AllowAny

from app.observability import metrics_view
from app.utils import json_error_view
from app.views import ApiNotFoundView, serve_media

schema_view = get_schema_view(
    openapi.Info(
        title="Catalog API",
        default_version="v1",
        description=(
            "The e-commerce catalog: users with roles, a category tree, products with images.\n\n"
            "**Authentication**: `Authorization: Bearer <access token>` from `auth/login/` or "
            "`auth/register/` (Authorize button: type `Bearer ` and the token). Access tokens live "
            "15 minutes; refresh them at `auth/refresh/`.\n\n"
            "**Envelope**: a single object arrives as `{success: true, data, message}`, a list as "
            "`{success: true, count, next, previous, results}` (`page`, `page_size` ≤ 100), an error "
            "as `{success: false, error: {code, message, details}}`.\n\n"
            "**Bodies**: JSON as documented; `application/x-www-form-urlencoded` and "
            "`multipart/form-data` with the same fields are accepted too (images: multipart only).\n\n"
            "**Conditional requests**: product and category reads send an `ETag`; `If-None-Match` → "
            "304, and `If-Match` on PUT/PATCH → 412 when the object changed since."
        ),
    ),
    public=True,
    permission_classes=[AllowAny],
    authentication_classes=[],
)

urlpatterns = [
    path("api/v1/", include("app.urls")),
    re_path(r"^api/", ApiNotFoundView.as_view()),
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    re_path(r"^swagger\.(?P<format>json|yaml)$", schema_view.without_ui(cache_timeout=0), name="schema"),
    path("swagger/", schema_view.with_ui("swagger", cache_timeout=0), name="schema-swagger-ui"),
    path("redoc/", schema_view.with_ui("redoc", cache_timeout=0), name="schema-redoc"),
]

if settings.SERVE_MEDIA and settings.MEDIA_URL.startswith("/"):
    urlpatterns.append(re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.*)$", serve_media))

handler400 = json_error_view(400, "VALIDATION_ERROR", "Bad request")
handler403 = json_error_view(403, "PERMISSION_DENIED", "Permission denied")
handler404 = json_error_view(404, "NOT_FOUND", "Not found")
handler500 = json_error_view(500, "INTERNAL_ERROR", "An unexpected error occurred")
