"""The Order service's tables (SQLAlchemy Core): orders, and one event cursor per market.

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
    # The account's notional of the window (store._notional_since) summed from the index alone.
    Index("order_orders_account_notional", "account", "create_time", "state", "kyc_notional_units"),
    Index("order_orders_state", "state"),
    Index("order_orders_release", "release"),
)

# Where each market's event follower stands, written in the transaction of the updates it caused.
cursors = Table(
    "order_event_cursors", metadata,
    Column("market", String(40), primary_key=True),
    Column("sequence", BigInteger, nullable=False),
)
