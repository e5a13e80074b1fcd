"""A pooled PostgreSQL connection is pinged when it is taken from the pool only if it sat
unused there for a while: one that died while the database was away is then replaced, not
used, and one in steady use costs nothing more.

SQLAlchemy's `pool_pre_ping` pinged on every checkout, and asyncpg's ping outside a
transaction is three round trips (BEGIN, an empty statement, ROLLBACK, so as to work behind
pgbouncer): on every transaction of every service, before its first statement (py-spy at 32
clients, bench/order.py on PostgreSQL: 5 % of Order's CPU, 2-4 % of the other services'). A
checkout and one SELECT cost ~323 µs of CPU and ~500 µs of wall time with it, ~188 and ~243
with this (medians of 5 × 400, alternated; issue #12). A connection returned
moments ago was answering then. If the server dies in that moment, the first statement on it
fails as a disconnection, SQLAlchemy then replaces every connection of the pool, and that call
is answered UNAVAILABLE, as every call is while the server is gone.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

IDLE_SECS = 1.0  # a connection unused for longer than this is pinged before it is used again
_RETURNED_AT = "clearmesh_returned_at"


def ping_idle_connections(engine: AsyncEngine) -> None:
    """On `engine` (created without pool_pre_ping): ping a connection taken from the pool after
    more than IDLE_SECS unused; one that does not answer is replaced by a new one."""
    dialect = engine.dialect

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    def taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        # None: a connection just opened, which answered then.
        if returned_at is None or time.monotonic() - returned_at <= IDLE_SECS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever the failure, the connection is not used
            raise DisconnectionError("a pooled connection did not answer its ping") from error
        if not alive:
            raise DisconnectionError("a pooled connection did not answer its ping")

    # The pool then discards the connection and takes (or opens) another.
    event.listen(engine.sync_engine, "checkin", returned)
    event.listen(engine.sync_engine, "checkout", taken)
