"""The Order service's tables (SQLAlchemy Core): orders, the accounts' notional per hour, and
one event cursor per market.

Integers inside (lots, ticks, the Wallet's smallest units); decimal strings only where the
value is shown back as given (price, quantity, max_notional, average_price).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    text,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")
DECIMAL_TEXT = String(64)

orders = Table(
    "order_orders", metadata,
    # The listing order and the page cursor.
    Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
    Column("order_id", String(36), nullable=False, unique=True),
    Column("account", String(140), nullable=False),
    Column("market", String(40), nullable=False),
    Column("side", SmallInteger, nullable=False),
    Column("type", SmallInteger, nullable=False),
    Column("time_in_force", SmallInteger, nullable=False),
    Column("price", DECIMAL_TEXT, nullable=True),
    Column("quantity", DECIMAL_TEXT, nullable=True),
    Column("max_notional", DECIMAL_TEXT, nullable=True),
    Column("post_only", Boolean, nullable=False),
    Column("expire_time", DateTime(timezone=True), nullable=True),
    Column("client_order_id", String(128), nullable=False),
    # The PlaceOrder request it came from: a retry finds this order (AIP-155).
    Column("request_id", String(128), nullable=False, unique=True),
    Column("fingerprint", String(64), nullable=False),
    Column("hold_asset", String(16), nullable=False),
    Column("hold_units", BigInteger, nullable=False),
    Column("kyc_notional_units", BigInteger, nullable=False),
    Column("state", String(20), nullable=False),
    Column("filled_quantity", DECIMAL_TEXT, nullable=False),
    Column("average_price", DECIMAL_TEXT, nullable=False),
    Column("reject_reason", String(64), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("state_sequence", BigInteger, nullable=False),
    Column("fill_sequence", BigInteger, nullable=False),
    Column("filled_value", BigInteger, nullable=False),
    Column("consumed_units", BigInteger, nullable=False),
    Column("release", String(8), nullable=False),
    Column("release_units", BigInteger, nullable=False),
    Index("order_orders_account_seq", "account", "seq"),
    # The orders of the window's oldest, partial hour (store._notional_since) summed from the index alone.
    Index("order_orders_account_notional", "account", "create_time", "state", "kyc_notional_units"),
    # The rejected orders of the window's whole hours, which its hours count and its sum must not:
    # few (a refusal), so only they are indexed. The query names the state as a literal, which
    # both databases need to use a partial index; `state`, constant in it, is a column all the
    # same: without it SQLite (no statistics) finds the notional index above as good for that
    # query (the same account and create_time range) and walks every order of the window.
    Index("order_orders_account_rejected", "account", "state", "create_time", "kyc_notional_units",
          sqlite_where=text("state = 'REJECTED'"), postgresql_where=text("state = 'REJECTED'")),
    Index("order_orders_state", "state"),
    Index("order_orders_release", "release"),
)

# Per account and UTC hour (`hour_start`, the floor of `create_time`), the kyc_notional_units of
# every order stored with that create hour, rejected ones too: what lets a placement read the
# account's notional of the last 24 h from ~25 rows instead of every order of the window
# (store._notional_since). A row only grows: added to, in the transaction that stores the order
# (`add_at_commit`, one upsert at the transaction's end), never taken from; it is deleted once
# no window reaches its hour (hours_sweep.py). On SQLite without
# rowid, so the sum reads the primary key's b-tree alone.
notional_hours = Table(
    "order_notional_hours", metadata,
    Column("account", String(140), primary_key=True),
    Column("hour_start", DateTime(timezone=True), primary_key=True),
    Column("units", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Where each market's event follower stands, written in the transaction of the updates it caused.
cursors = Table(
    "order_event_cursors", metadata,
    Column("market", String(40), primary_key=True),
    Column("sequence", BigInteger, nullable=False),
)
