"""The PostgreSQL backend (with django-prometheus's query metrics), whose connection health check
costs no round trip while the connection is sound, which reads timestamps with psycopg's own (C)
loader, and whose cursor leaves the statements of lists unprepared (plans.py says why).

With CONN_HEALTH_CHECKS, Django checks a persistent connection before each request's first query
by sending `SELECT 1`: a whole round trip, a seventh of a cheap request's time. A connection the
server has ended while it sat idle (a restart, `pg_terminate_backend`) has something waiting on
its socket: the server's last error, or the end of the stream. So an idle connection with nothing
to read is used as it is; any other gets Django's `SELECT 1`.
"""

import datetime
import select

from django.db.backends.postgresql.base import ServerBindingCursor
from django_prometheus.db.backends.postgresql import base
from django_prometheus.db.common import ExportingCursorWrapper
from psycopg import adapters
from psycopg.adapt import Loader
from psycopg.postgres import types
from psycopg.pq import Format, TransactionStatus

from ecommerce_backend.postgresql.plans import prepare_choice

# psycopg's own timestamptz loader: its C version where psycopg has one (psycopg[binary] or [c]).
NativeTimestamptzLoader = adapters.get_loader(types["timestamptz"].oid, Format.TEXT)


class UTCTimestamptzLoader(Loader):
    """timestamptz values as aware datetimes in UTC, read by psycopg's own loader.

    Django registers a pure-Python loader that parses each value and then sets its tzinfo to the
    connection's time zone: a twentieth of a product list's time. In a session whose time zone is
    UTC (Django sets it so with USE_TZ and no database TIME_ZONE), psycopg's C loader gives the
    same values, tzinfo `datetime.timezone.utc` included, by itself. `timezone` is what Django
    compares with its own before each cursor: were they ever to differ (settings changed in a
    test), Django registers its loader on that cursor, as it would without this one."""

    timezone = datetime.UTC

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        self._native = NativeTimestamptzLoader(oid, context)

    @property
    def load(self):
        """The native loader's own `load`: psycopg looks it up once per result column, then calls
        it with no Python in between."""
        return self._native.load


class PlanningCursor(ServerBindingCursor):
    """psycopg's cursor with server-side binding, which does not prepare a statement with
    parameters inside `planned_per_value()` (see plans.py)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if prepare is None and params:
            prepare = prepare_choice()
        return super().execute(query, params, prepare=prepare, binary=binary)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if issubclass(params["cursor_factory"], ServerBindingCursor):  # server-side binding is on
            # django-prometheus has wrapped Django's cursor class to count queries: wrap ours.
            params["cursor_factory"] = ExportingCursorWrapper(PlanningCursor, self.alias, self.vendor)
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if self.timezone is datetime.UTC:
            connection.adapters.register_loader("timestamptz", UTCTimestamptzLoader)
        return connection

    def is_usable(self):
        connection = self.connection
        if connection is not None and not connection.closed and self._quiet(connection):
            return True
        return super().is_usable()

    @staticmethod
    def _quiet(connection) -> bool:
        """Idle, outside a transaction, and nothing from the server waiting to be read."""
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):  # a closed socket, or a descriptor select() cannot watch
            return False
        return not readable
