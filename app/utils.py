"""
The response envelope of the API contract (section 1), one piece per job:

- `EnvelopeRenderer` wraps successful payloads in `{success, data, message}`;
- `EnvelopePagination` shapes lists as `{success, count, next, previous, results}`;
- `envelope_exception_handler` turns every exception into `{success: false, error}`;
- `ApplicationError` and its subclasses are what domain code raises.
"""

import logging
import operator
import sys
from contextlib import nullcontext
from functools import partial, reduce

import orjson
from django.core.exceptions import (
    EmptyResultSet,
    ObjectDoesNotExist,
    PermissionDenied as DjangoPermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.paginator import Paginator as DjangoPaginator
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connections
from django.db.models import BooleanField, F, Field, Func, ProtectedError, Q, RestrictedError, Value
from django.db.models.expressions import RawSQL
from django.db.models.query import ValuesIterable
from django.http import Http404, JsonResponse
from django.utils.functional import cached_property
from psycopg import sql
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils import encoders

from ecommerce_backend.postgresql.plans import plan_kept, planned_per_value

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

# ---------------------------------------------------------------------------
# Exceptions domain code raises
# ---------------------------------------------------------------------------


class ApplicationError(exceptions.APIException):
    """A failure the client can act on: `code` is one of the contract's error codes."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "VALIDATION_ERROR"
    default_detail = "Invalid input data"

    def __init__(self, message=None, code=None, details=None, status_code=None):
        super().__init__(message or self.default_detail)
        self.error_code = code or self.default_code
        if status_code is not None:
            self.status_code = status_code
        self.details = details or {}


class ConflictError(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "CONFLICT"
    default_detail = "The request conflicts with the current state of the resource"


class UnprocessableError(ApplicationError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "UNPROCESSABLE_ENTITY"
    default_detail = "The request breaks a business rule"


class PreconditionFailed(ApplicationError):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "PRECONDITION_FAILED"
    default_detail = "The resource has changed since the ETag you sent; fetch it again"


class ServiceUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "SERVICE_UNAVAILABLE"
    default_detail = "A service the API depends on is unavailable; try again shortly"


# ---------------------------------------------------------------------------
# Exception handler
# ---------------------------------------------------------------------------

# DRF's exception classes, by the contract's code for them.
_DRF_CODES = [
    (exceptions.ParseError, "PARSE_ERROR", "Malformed request body"),
    (exceptions.NotAuthenticated, "NOT_AUTHENTICATED", None),
    (exceptions.AuthenticationFailed, "AUTHENTICATION_FAILED", None),
    (exceptions.PermissionDenied, "PERMISSION_DENIED", None),
    (exceptions.NotFound, "NOT_FOUND", "Not found"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED", None),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE", None),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", None),
    (exceptions.Throttled, "THROTTLED", None),
    (exceptions.ValidationError, "VALIDATION_ERROR", "Invalid input data"),
]

_DB_UNAVAILABLE = (OperationalError, InterfaceError)


def error_body(code: str, message: str, details=None) -> dict:
    return {"success": False, "error": {"code": code, "message": message, "details": details or {}}}


def _as_details(detail) -> dict:
    """DRF's error detail (dict, list or string) as the contract's `field -> [messages]`."""
    if isinstance(detail, dict):
        return {
            str(field): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            if not isinstance(msgs, dict)
            else _as_details(msgs)
            for field, msgs in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]} if detail else {}
    return {}


def _from_api_exception(exc: exceptions.APIException) -> tuple[str, str, dict]:
    if isinstance(exc, ApplicationError):
        return exc.error_code, str(exc.detail), exc.details
    for exc_class, code, message in _DRF_CODES:
        if isinstance(exc, exc_class):
            if isinstance(exc.detail, str):
                return code, str(exc.detail), {}
            if isinstance(exc.detail, dict) and "detail" in exc.detail:
                # simplejwt's {"detail", "code", "messages"}: the message is the detail.
                return code, str(exc.detail["detail"]), {}
            return code, message or str(exc.default_detail), _as_details(exc.detail)
    # simplejwt's InvalidToken and friends carry a dict detail and a 401.
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        return "AUTHENTICATION_FAILED", "Given token not valid or expired", {}
    message = exc.detail if isinstance(exc.detail, str) else exc.default_detail
    return str(exc.default_code).upper(), str(message), _as_details(exc.detail)


def _classify(exc) -> tuple[int, str, str, dict, dict]:
    """(status, code, message, details, headers) for any exception."""
    headers = {}
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, ServiceUnavailable):
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        code, message, details = _from_api_exception(exc)
        return exc.status_code, code, message, details, headers

    if isinstance(exc, RequestDataTooBig):
        return 413, "PAYLOAD_TOO_LARGE", "The request body is too large", {}, headers
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return 400, "VALIDATION_ERROR", "Too many fields or files in the request", {}, headers
    if isinstance(exc, SuspiciousOperation):
        return 400, "VALIDATION_ERROR", "Bad request", {}, headers
    if isinstance(exc, ProtectedError | RestrictedError):
        return 409, "CONFLICT", "The object is still referenced by others", {}, headers
    if isinstance(exc, IntegrityError):
        return 409, "CONFLICT", "The request conflicts with an existing object", {}, headers
    if isinstance(exc, _DB_UNAVAILABLE):
        logger.error("Database unavailable: %s", exc.__class__.__name__, exc_info=exc)
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return 503, "SERVICE_UNAVAILABLE", "The database is unavailable; try again shortly", {}, headers
    if isinstance(exc, DatabaseError) and "timeout" in str(exc).lower():
        logger.error("Database query timed out", exc_info=exc)
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return 503, "SERVICE_UNAVAILABLE", "The database is busy; try again shortly", {}, headers

    logger.error("Unhandled exception", exc_info=exc)
    return 500, "INTERNAL_ERROR", "An unexpected error occurred", {}, headers


def _count_refusal(exc, context):
    """DRF checks rate limits after authentication and permissions, so a refused request would
    neither spend the caller's limit nor carry its headers: guessing tokens or probing protected
    routes would never be throttled. Count it now; past the limit, the answer is the 429."""
    view, request = context.get("view"), context.get("request")
    if view is None or request is None or not getattr(view, "throttle_classes", None):
        return exc
    if getattr(getattr(request, "_request", request), "ratelimit", None) is not None:
        return exc  # refused by the view itself, after the limits were checked and counted
    try:
        view.check_throttles(request)
    except exceptions.Throttled as throttled:
        return throttled
    return exc


def envelope_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every exception becomes the error envelope, nothing is re-raised."""
    # Imported here: rest_framework.views reads the settings that name this module.
    from rest_framework.views import set_rollback

    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed | exceptions.PermissionDenied):
        exc = _count_refusal(exc, context)
    status_code, code, message, details, headers = _classify(exc)
    set_rollback()
    return Response(error_body(code, message, details), status=status_code, headers=headers)


def json_error_view(status_code: int, code: str, message: str):
    """A plain Django view (for handler400/403/404/500) answering with the error envelope."""

    def view(request, exception=None):
        _status, _code, _message, headers = status_code, code, message, {}
        current = sys.exc_info()[1]
        if status_code == 500 and isinstance(current, _DB_UNAVAILABLE):
            _status, _code, _message, _details, headers = _classify(current)
        response = JsonResponse(error_body(_code, _message), status=_status)
        for name, value in headers.items():
            response[name] = value
        return response

    return view


# ---------------------------------------------------------------------------
# Renderer, parser, pagination
# ---------------------------------------------------------------------------


class EnvelopeRenderer(JSONRenderer):
    """Wraps plain successful payloads in {success, data, message}; leaves errors, pages and 204 alone.

    The bytes are DRF's compact JSON, made by orjson (a tenth of the time: a twentieth of a
    product list's); `?indent`-style pretty printing (`Accept: application/json; indent=4`)
    stays with DRF."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if (
            response is not None
            and not response.exception
            and response.status_code < 400
            and response.status_code not in (204, 304)
            and not (isinstance(data, dict) and "success" in data)
        ):
            data = {"success": True, "data": data, "message": _message_for(renderer_context)}
        if data is None or self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            return compact_json(data)
        except orjson.JSONEncodeError:  # an int beyond 64 bits, a lone surrogate echoed from input...
            return _ASCII_RENDERER.render(data, accepted_media_type, renderer_context)


class _AsciiJSONRenderer(JSONRenderer):
    """DRF's renderer, non-ASCII escaped: it writes what orjson refuses (a lone surrogate that
    came in as `\\ud800` in a request's JSON is then sent back as written, not a 500)."""

    ensure_ascii = True


_ASCII_RENDERER = _AsciiJSONRenderer()
_DRF_ENCODER = encoders.JSONEncoder()
# Datetimes and dataclasses go to DRF's encoder too, so that they look as DRF writes them.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


def compact_json(data) -> bytes:
    """`data` as DRF's JSONRenderer writes it (compact, UTF-8, U+2028 and U+2029 escaped), by
    orjson; what orjson does not know (Decimal, lazy strings, datetimes...) by DRF's encoder.
    A float (none in this API's payloads) is written in orjson's shortest form, which for some
    exponents differs from Python's (`1e-7` for `1e-07`)."""
    body = orjson.dumps(data, default=_DRF_ENCODER.default, option=_ORJSON_OPTIONS)
    return body.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")


def _message_for(renderer_context) -> str:
    """The view's `success_message` (a string, or a dict by HTTP method), else "<Model> created/updated"."""
    view = renderer_context.get("view")
    request = renderer_context.get("request")
    method = request.method if request is not None else "GET"
    custom = getattr(view, "success_message", None)
    if isinstance(custom, dict):
        custom = custom.get(method)
    if custom:
        return custom
    noun = getattr(view, "resource_name", None)
    queryset = getattr(view, "queryset", None)
    if noun is None and queryset is not None:
        noun = str(queryset.model._meta.verbose_name).capitalize()
    noun = noun or "Object"
    return {"POST": f"{noun} created", "PUT": f"{noun} updated", "PATCH": f"{noun} updated"}.get(method, "OK")


class SafeJSONParser(JSONParser):
    """JSONParser that also refuses absurdly nested documents (RecursionError) with a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - document nested too deeply") from None


class CachedCountPaginator(DjangoPaginator):
    """Django's paginator, with shortcuts for big tables:

    - the exact count is remembered per filter combination and catalog version (caching.py);
    - so is the SQL of each page read: the next read of it is not compiled again;
    - a deep page (offset ≥ DEEP_OFFSET) starts from a keyset anchor: the sort key of the row
      just before the nearest multiple of ANCHOR_EVERY rows, found once per catalog version and
      remembered (a page's last row is remembered as the anchor after it, so reading page after
      page finds none), and page 2,500 reads at most ANCHOR_EVERY index entries, not 50,000;
    - where no anchor can help (an ordering by relevance, or no separate cache), it first finds
      the page's ids with a narrow query the database answers from an index alone, then loads
      just those rows.
    """

    DEEP_OFFSET = 1000
    ANCHOR_EVERY = 20  # the default page size: such a page starts right at its anchor
    COUNTED_PAGES = 1_000_000  # the highest page the count-with-the-page query is asked for

    def __init__(self, *args, count_key: str, filtered: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_key = count_key
        # Whether the client filters the list: then a keyset page's best plan depends on the
        # filters' values too (a price range), and is not kept (`plan_kept`).
        self.filtered = filtered

    @cached_property
    def count(self):
        from app.caching import cached_count  # caching imports the models; utils must not

        return cached_count(self.object_list, self.count_key)

    def page(self, number):
        bottom = self._counted_bottom(number)
        if hasattr(self.object_list, "counted") and bottom is not None and bottom >= self.DEEP_OFFSET:
            self.object_list = self.object_list.queryset  # a compiled search's deep page: as built
        if "count" not in self.__dict__ and bottom is not None:
            page = self._page_counting_matches(number, bottom)
            if page is not None:
                return page
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if not hasattr(self.object_list, "values_list"):
            return super().page(number)
        if bottom < self.DEEP_OFFSET:
            top = bottom + self.per_page
            if top + self.orphans >= self.count:
                top = self.count
            if top <= bottom:  # an empty first page
                return self._get_page([], number, self)
            return self._get_page(
                self._rows_compiled_once(f"{bottom}:{top}", lambda: self.object_list[bottom:top]), number, self
            )
        top = min(bottom + self.per_page, self.count)
        rows = self._from_anchor(bottom, top)
        if rows is None:
            rows = self._ids_first(bottom, top)
        return self._get_page(rows, number, self)

    def _counted_bottom(self, number) -> int | None:
        """Where page `number` starts, when its count may come with it: a page number up to
        COUNTED_PAGES (past it, the plain path answers 404: no huge OFFSET)."""
        try:
            number = int(number)
        except (TypeError, ValueError):
            return None
        return (number - 1) * self.per_page if 1 <= number <= self.COUNTED_PAGES else None

    def _page_counting_matches(self, number, bottom):
        """A list ordered by a computed value (an annotation: search relevance) makes the database
        read every match to order one page; the count then comes with the page, in the same
        query (COUNT(*) OVER ()), instead of reading every match twice. The count is remembered
        by this process only, for its next pages: looking it up in the shared cache would cost
        each new search a round trip, for a count that costs little more than its page. A search
        compiled once (`RankedMatches`) reads its pages so, `counted`, every time, unless it turns
        out not to be one query (a typo standing for common words: `counted` gives None), and is
        then read as its `queryset`. An empty first page is a count of 0. None when the ordering
        is by columns, when this process remembers the count, or when a later page holds no row."""
        from app.caching import count_memo_key, recall_here, remember_here
        from app.models import with_match_count

        counted = getattr(self.object_list, "counted", None)
        if counted is None:
            if not hasattr(self.object_list, "values_list"):
                return None
            query = self.object_list.query
            if not any(isinstance(name, str) and name.lstrip("-") in query.annotations for name in query.order_by):
                return None
            count = recall_here(count_memo_key(self.count_key))
            if count is not None:
                self.count = count
                return None

            def with_count(bottom, top):
                return list(with_match_count(self.object_list)[bottom:top])

            counted = with_count
        rows = counted(bottom, bottom + self.per_page)
        if rows is None:  # a compiled search that is not one query after all (`RankedMatches`)
            self.object_list = self.object_list.queryset
            return None
        if not rows and bottom:
            return None
        first = rows[0] if rows else {"matches": 0}
        self.count = first["matches"] if isinstance(first, dict) else first.matches
        remember_here(count_memo_key(self.count_key), self.count)
        return self._get_page(rows, self.validate_number(number), self)

    def _rows_compiled_once(self, name: str, build):
        """The rows of the page `name` of this list, which the queryset `build()` selects.

        Within one catalog version a list (its path, filters and caller: the count's key) is
        the same query, and so is each of its pages (a deep page's anchor too), so each process
        compiles a values() list's page once (`CompiledRows`, kept in `caching.compiled_pages`)
        and sends that SQL again for the reads that follow; the rows still come from the
        database every time. With the response cache on, this serves what it does not: an
        `Accept` or a parameter order of its own, and the uncached. One exception, as for the
        count: a search word that PostgreSQL's statistics stop listing as common is read as
        before until the memo expires (LOCAL_TTL). Without a catalog version (an authenticated
        read) the page is compiled for the one read."""
        from app.caching import compiled_pages
        from app.models import CompiledRows

        key = f"{self.count_key}|{name}|{self.object_list.db}"
        compiled = compiled_pages.get(key)
        if compiled is None:
            rows = build()
            if not issubclass(rows._iterable_class, ValuesIterable):
                return rows
            try:
                compiled = CompiledRows(rows)
            except EmptyResultSet:  # no row can match: Django does not ask the database either
                return []
            compiled_pages.keep(key, compiled)
        return compiled.run()

    def _from_anchor(self, bottom, top):
        from app.caching import cache_is_separate_store, recall, recall_here, remember

        ordering = keyset_ordering(self.object_list)
        if ordering is None or not cache_is_separate_store():
            return None
        start = bottom // self.ANCHOR_EVERY * self.ANCHOR_EVERY
        if start == 0:  # before the first anchor: a short offset
            return list(self.object_list[bottom:top])
        fields = [name.lstrip("-") for name in ordering]
        version, anchor = recall(self._anchor_key(ordering, start))
        if anchor is None:
            anchor = list(self.object_list.values_list(*fields)[start - 1 : start])
            remember(self._anchor_key(ordering, start), version, anchor)
        if not anchor:  # fewer rows than the count said: the catalog changed meanwhile
            return None
        # Unfiltered, the statement has no parameters (the anchor is written into it: rows_after),
        # and its best plan is an index scan from the anchor: it is prepared, and planned once.
        with nullcontext() if self.filtered else plan_kept():
            rows = list(
                self._rows_compiled_once(
                    f"{bottom}:{top} from the anchor at {start}",
                    lambda: self.object_list.filter(
                        rows_after(self.object_list.model, ordering, anchor[0], self.object_list.db)
                    )[bottom - start : top - start],
                )
            )
        following = self._anchor_key(ordering, top)
        if top % self.ANCHOR_EVERY == 0 and len(rows) == top - bottom and recall_here(following) is None:
            # The page's last row is the anchor at `top`: read page by page, no page computes one.
            key = self._sort_key(rows[-1], fields)
            if key is not None:
                remember(following, version, [key])
        return rows

    def _sort_key(self, row, fields) -> tuple | None:
        """`row`'s values of `fields` as `values_list(*fields)` gives them (a foreign key as its
        id), from a dict of a `values()` query or a model instance; None when a dict lacks one."""
        if isinstance(row, dict):
            return tuple(row[name] for name in fields) if all(name in row for name in fields) else None
        meta = self.object_list.model._meta
        return tuple(getattr(row, meta.get_field(name).attname) for name in fields)

    def _anchor_key(self, ordering, position) -> str:
        return f"anchor|{self.count_key}|{ordering}|{position}"

    def _ids_first(self, bottom, top):
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        pk_name = self.object_list.model._meta.pk.name
        found = self.object_list.order_by().filter(pk__in=ids)
        rows = {row[pk_name] if isinstance(row, dict) else row.pk: row for row in found}
        return [rows[pk] for pk in ids if pk in rows]


def keyset_ordering(queryset) -> list[str] | None:
    """The queryset's ordering when a keyset can follow it: names of the model's own non-null
    fields, ending with its primary key (so no two rows tie); else None."""
    query = queryset.query
    ordering = list(query.order_by) or (list(query.get_meta().ordering) if query.default_ordering else [])
    fields = {f.name: f for f in query.get_meta().concrete_fields}
    if not ordering or query.extra_order_by or not all(isinstance(name, str) for name in ordering):
        return None
    names = [name.lstrip("-") for name in ordering]
    if any(name not in fields or fields[name].null for name in names):
        return None
    return ordering if fields[names[-1]].primary_key else None


def rows_after(model, ordering: list[str], values, using: str):
    """A filter for the rows that come after a row whose sort key is `values`, in `ordering`
    ("-" descending), for the database `using`. Either way the database starts its index scan at
    the anchor.

    When every field goes the same way, a row comparison: (a, b) > (x, y), or < descending. Its
    best plan is the same wherever the anchor is. On PostgreSQL the anchor's values are written
    into the SQL as literals (`_row_after_literals`), so that PostgreSQL keeps that plan.
    Otherwise, for a ascending and b descending say, a > x OR (a = x AND b < y), with the first
    field's own bound (a >= x) repeated so that the scan starts at the anchor."""
    names = [name.lstrip("-") for name in ordering]
    directions = {name.startswith("-") for name in ordering}
    if len(directions) == 1 and connections[using].vendor == "postgresql":
        return _row_after_literals(model, names, values, " < " if directions.pop() else " > ", using)
    if len(directions) == 1:
        row = partial(Func, template="(%(expressions)s)", output_field=Field())
        anchor = (
            Value(value, output_field=model._meta.get_field(name)) for name, value in zip(names, values, strict=True)
        )
        return Func(
            row(*map(F, names)),
            row(*anchor),
            template="%(expressions)s",
            arg_joiner=" < " if directions.pop() else " > ",
            output_field=BooleanField(),
        )
    branches, equal = [], Q()
    for name, value in zip(ordering, values, strict=True):
        field, op = name.lstrip("-"), "lt" if name.startswith("-") else "gt"
        branches.append(equal & Q(**{f"{field}__{op}": value}))
        equal &= Q(**{field: value})
    first = ordering[0]
    bound = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]})
    return bound & reduce(operator.or_, branches)


def _row_after_literals(model, names, values, operator_sql: str, using: str) -> RawSQL:
    """PostgreSQL: `(a, b) < (x, y)` with the anchor's values as literals, quoted by psycopg.

    With parameters, the statement of a deep page was prepared but planned again at every run
    (28 custom plans of 28 runs, measured): the plan for no anchor in particular looks dearer to
    PostgreSQL than the one for each anchor, though both are the same index scan, and planning
    took half a millisecond of a deep page's 0.75 ms of PostgreSQL time at 1M products. Without
    parameters, a prepared statement is planned once. Each anchor is a statement of its own, and
    there is one anchor per deep page and catalog version. The values come from the database
    (a row's sort key), and psycopg's `Literal` quotes any of them."""
    connection = connections[using]
    connection.ensure_connection()
    table = model._meta.db_table
    columns = ", ".join(f'"{table}"."{model._meta.get_field(name).column}"' for name in names)
    literals = ", ".join(sql.Literal(value).as_string(connection.connection) for value in values)
    return RawSQL(f"({columns}){operator_sql}({literals})", [], output_field=BooleanField())


class EnvelopePagination(PageNumberPagination):
    """`page` and `page_size` (default 20, capped at 100); a page past the end is a 404."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    @classmethod
    def list_key(cls, request) -> str:
        """What names a list whatever its page: the URL path, its parameters but the page, and the
        caller. Within one catalog version, one key is one list: the same rows, the same count. A
        repeated parameter keeps its values in their order (a filter reads the last one)."""
        filters = sorted(
            (name, values)
            for name, values in request.query_params.lists()
            if name not in (cls.page_query_param, cls.page_size_query_param)
        )
        caller = request.user.pk if request.user.is_authenticated else None
        return f"{request.path}|{filters}|{caller}"

    def paginate_queryset(self, queryset, request, view=None):
        unfiltered = (self.page_query_param, self.page_size_query_param, "ordering")
        self.django_paginator_class = partial(
            CachedCountPaginator,
            count_key=self.list_key(request),
            filtered=any(name not in unfiltered for name in request.query_params),
        )
        with planned_per_value():  # a list's best plan depends on its filters' values
            return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return Response(
            {
                "success": True,
                "count": self.page.paginator.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["success", "count", "results"],
            "properties": {
                "success": {"type": "boolean", "example": True},
                "count": {"type": "integer", "example": 123},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }
