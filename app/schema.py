"""How the API describes itself (drf-yasg): every response inside the envelope, every error it can
answer with, typed filter parameters. One inspector for the whole API, so views stay declarative:
a view may add `operation_docs = {action: (summary, description)}` and `error_statuses = {action: [...]}`.
"""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_yasg import openapi
from drf_yasg.inspectors import FieldInspector, FilterInspector, NotHandled, SwaggerAutoSchema
from rest_framework.permissions import AllowAny, IsAuthenticated

ERROR_CODES = {
    400: ("VALIDATION_ERROR", "A field or query parameter is invalid, or the body is malformed (PARSE_ERROR)"),
    401: ("NOT_AUTHENTICATED", "No credentials, or a bad, expired or revoked token (AUTHENTICATION_FAILED)"),
    403: ("PERMISSION_DENIED", "Authenticated but not allowed"),
    404: ("NOT_FOUND", "No such object, or not one the caller may see; or a page past the end"),
    406: ("NOT_ACCEPTABLE", "The Accept header asks for something other than JSON"),
    409: ("CONFLICT", "Duplicate, or the object is still in use"),
    412: ("PRECONDITION_FAILED", "If-Match names an ETag that is no longer current"),
    413: ("PAYLOAD_TOO_LARGE", "The body or an uploaded file is over the size limit"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "A body in a content type this endpoint does not take"),
    422: ("UNPROCESSABLE_ENTITY", "Well-formed but breaks a business rule"),
    429: ("THROTTLED", "Rate limit hit; see Retry-After"),
    503: ("SERVICE_UNAVAILABLE", "The database or cache is unreachable; see Retry-After"),
}

ERROR_ENVELOPE = openapi.Schema(
    title="Error",
    type=openapi.TYPE_OBJECT,
    required=["success", "error"],
    properties={
        "success": openapi.Schema(type=openapi.TYPE_BOOLEAN, enum=[False]),
        "error": openapi.Schema(
            type=openapi.TYPE_OBJECT,
            required=["code", "message", "details"],
            properties={
                "code": openapi.Schema(
                    type=openapi.TYPE_STRING,
                    enum=sorted({code for code, _ in ERROR_CODES.values()} | {"PARSE_ERROR", "AUTHENTICATION_FAILED"}),
                ),
                "message": openapi.Schema(type=openapi.TYPE_STRING),
                "details": openapi.Schema(
                    type=openapi.TYPE_OBJECT,
                    description="Field or parameter name → list of messages; {} when there is nothing to add.",
                ),
            },
        ),
    },
)


def envelope(data_schema, *, nullable: bool = False) -> openapi.Schema:
    """`{success: true, data: <data_schema>, message}`: how every single-object answer arrives."""
    if nullable:
        data_schema = openapi.Schema(type=openapi.TYPE_OBJECT, x_nullable=True)
    return openapi.Schema(
        type=openapi.TYPE_OBJECT,
        required=["success", "data", "message"],
        properties={
            "success": openapi.Schema(type=openapi.TYPE_BOOLEAN, enum=[True]),
            "data": data_schema,
            "message": openapi.Schema(type=openapi.TYPE_STRING),
        },
    )


# Response examples shown in Swagger UI and ReDoc, by (view class, action or method).
_USER = {
    "id": "6f1c2a0e-3b7d-4c55-9a57-0c2f4d1e8b90",
    "email": "ada@example.com",
    "username": "ada",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "role": "seller",
    "is_premium": False,
    "date_joined": "2026-11-27T10:00:00Z",
}
_TOKENS = {
    "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.<access>",
    "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.<refresh>",
}
_PRODUCT = {
    "id": "5b1c9f5e-8e2a-4d8e-9a57-2b0a1c3d4e5f",
    "name": "Blue Phone",
    "slug": "blue-phone",
    "sku": "BP-1",
    "description": "A 6.1-inch smartphone with a very blue case.",
    "price": "199.00",
    "stock": 5,
    "in_stock": True,
    "is_featured": False,
    "is_active": True,
    "category": {"id": "0e7a1f52-1c1d-4b7e-8f0a-6d3c2b1a0f9e", "name": "Smartphones", "slug": "smartphones"},
    "seller": {"id": _USER["id"], "username": "ada"},
    "images": [
        {
            "id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            "url": "http://127.0.0.1:8000/media/products/5b1c9f5e-8e2a-4d8e-9a57-2b0a1c3d4e5f/3f2a.jpg",
            "thumbnail_url": "http://127.0.0.1:8000/media/products/5b1c9f5e-8e2a-4d8e-9a57-2b0a1c3d4e5f/thumbs/7c1d.webp",
            "alt_text": "Front",
            "position": 0,
        }
    ],
    "created_at": "2026-11-27T10:05:00Z",
    "updated_at": "2026-11-27T10:05:00Z",
}
RESPONSE_EXAMPLES = {
    ("RegisterView", "post"): {
        "success": True,
        "data": {"user": _USER, "tokens": _TOKENS},
        "message": "User registered",
    },
    ("LoginView", "post"): {"success": True, "data": {"user": _USER, "tokens": _TOKENS}, "message": "Logged in"},
    ("ProductViewSet", "create"): {"success": True, "data": _PRODUCT, "message": "Product created"},
    ("ProductViewSet", "list"): {
        "success": True,
        "count": 150,
        "next": "http://127.0.0.1:8000/api/v1/products/?page=2",
        "previous": None,
        "results": [_PRODUCT],
    },
}


def _is_enveloped(schema) -> bool:
    return isinstance(schema, openapi.Schema) and "success" in (schema.get("properties") or {})


class ReadOnlyStringsMayBeEmpty(FieldInspector):
    """drf-yasg gives read-only strings `minLength: 1`, but a blank description or alt text is
    answered as "" and must still match the schema."""

    def process_result(self, result, method_name, obj, **kwargs):
        if isinstance(result, openapi.Schema) and getattr(obj, "read_only", False) and "minLength" in result:
            del result["minLength"]
        return result


class FilterSetInspector(FilterInspector):
    """Query parameters straight from the view's FilterSet: types, enums and limits, not just strings."""

    def get_filter_parameters(self, filter_backend):
        if not isinstance(filter_backend, DjangoFilterBackend):
            return NotHandled
        filterset_class = getattr(self.view, "filterset_class", None)
        if filterset_class is None:
            return []
        required = getattr(filterset_class, "required_params", ())
        return [self._parameter(name, f, name in required) for name, f in filterset_class.base_filters.items()]

    def _parameter(self, name, filter_, required: bool) -> openapi.Parameter:
        extra = {}
        if isinstance(filter_, django_filters.OrderingFilter):
            choices = [value for value, _ in filter_.field.choices if value]
            extra = {"type": openapi.TYPE_STRING, "enum": choices}
        elif "choices" in filter_.extra:
            extra = {"type": openapi.TYPE_STRING, "enum": [value for value, _ in filter_.extra["choices"]]}
        elif isinstance(filter_, django_filters.NumberFilter):
            extra = {"type": openapi.TYPE_NUMBER, "minimum": filter_.extra.get("min_value", None)}
        else:
            extra = {"type": openapi.TYPE_STRING, "max_length": filter_.extra.get("max_length")}
        extra = {key: value for key, value in extra.items() if value is not None}
        return openapi.Parameter(
            name=name, in_=openapi.IN_QUERY, required=required, description=str(filter_.label or ""), **extra
        )


class EnvelopeAutoSchema(SwaggerAutoSchema):
    """drf-yasg's view inspector, describing answers as clients receive them."""

    WRITE_METHODS = ("POST", "PUT", "PATCH")
    filter_inspectors = [FilterSetInspector, *SwaggerAutoSchema.filter_inspectors]
    field_inspectors = [ReadOnlyStringsMayBeEmpty, *SwaggerAutoSchema.field_inspectors]

    @property
    def action(self) -> str | None:
        return getattr(self.view, "action", None)

    def _lists(self) -> bool:
        """Custom actions that answer with a filtered, paginated list (e.g. a category's products)."""
        return self.action in getattr(self.view, "paginated_actions", ())

    def has_list_response(self):
        return self._lists() or super().has_list_response()

    def should_page(self):
        return self._lists() or super().should_page()

    def should_filter(self):
        return self._lists() or super().should_filter()

    def get_summary_and_description(self):
        docs = getattr(self.view, "operation_docs", {}).get(self.action)
        if docs and "operation_summary" not in self.overrides:
            return docs
        return super().get_summary_and_description()

    def get_default_response_serializer(self):
        # Writes answer with what a read shows (e.g. a product with its seller and images).
        read_class = getattr(self.view, "read_serializer_class", None)
        if (
            read_class is not None
            and self.method in self.WRITE_METHODS
            and self.action
            in (
                "create",
                "update",
                "partial_update",
            )
        ):
            return read_class()
        return super().get_default_response_serializer()

    def get_response_serializers(self):
        responses = super().get_response_serializers()
        definitions = self.components.with_scope(openapi.SCHEMA_DEFINITIONS)
        definitions.setdefault("Error", lambda: ERROR_ENVELOPE)
        error = openapi.SchemaRef(definitions, "Error")
        for status in sorted(self._error_statuses()):
            code, description = ERROR_CODES[status]
            responses.setdefault(str(status), openapi.Response(f"{code}: {description}", error))
        if self.method == "GET" and self.action == "retrieve" and hasattr(self.view, "read_serializer_class"):
            responses.setdefault("304", openapi.Response("Not modified: If-None-Match named the current ETag"))
        return responses

    def get_response_schemas(self, response_serializers):
        responses = super().get_response_schemas(response_serializers)
        for status, response in responses.items():
            schema = response.get("schema") if isinstance(response, openapi.Response) else None
            if status.isdigit() and 200 <= int(status) < 300 and schema is not None and not _is_enveloped(schema):
                response["schema"] = envelope(schema)
        example = RESPONSE_EXAMPLES.get((type(self.view).__name__, self.action or self.method.lower()))
        success = next((r for s, r in responses.items() if s in ("200", "201")), None)
        if example is not None and success is not None:
            success["examples"] = {"application/json": example}
        return responses

    def _error_statuses(self) -> set[int]:
        view, method = self.view, self.method
        statuses = set(getattr(view, "error_statuses", {}).get(self.action or method.lower(), ()))
        if method in self.WRITE_METHODS and self.get_request_serializer() is not None:
            statuses |= {400, 413, 415}
        if method == "GET" and self.should_page():
            statuses |= {400, 404}
        if "{" in self.path:
            statuses.add(404)
        if getattr(view, "authentication_classes", None) or statuses & {401}:
            statuses.add(401)  # a bad or revoked token is refused even where none is needed
        if not self._is_public():
            statuses |= {401} if self._only_needs_login() else {401, 403}
        if getattr(view, "throttle_classes", None):
            statuses.add(429)
        return statuses

    def _permissions(self) -> list:
        try:
            return self.view.get_permissions()
        except Exception:  # a view whose permissions need a real request: assume protected
            return [None]

    def _is_public(self) -> bool:
        return all(isinstance(p, AllowAny) for p in self._permissions())

    def _only_needs_login(self) -> bool:
        return all(type(p) is IsAuthenticated for p in self._permissions())
