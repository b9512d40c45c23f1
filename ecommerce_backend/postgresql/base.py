"""The PostgreSQL backend (with django-prometheus's query metrics), whose connection health check
costs no round trip while the connection is sound.

With CONN_HEALTH_CHECKS, Django checks a persistent connection before each request's first query
by sending `SELECT 1`: a whole round trip, a seventh of a cheap request's time. A connection the
server has ended while it sat idle (a restart, `pg_terminate_backend`) has something waiting on
its socket: the server's last error, or the end of the stream. So an idle connection with nothing
to read is used as it is; any other gets Django's `SELECT 1`.
"""

import select

from django_prometheus.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
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
