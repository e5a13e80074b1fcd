"""The accounts' notional per UTC hour (`order_notional_hours`), and a partial index of the
rejected orders: what lets a placement read the account's notional of the last 24 h from a
few dozen rows instead of every order of the window (store._notional_since).

The sum over the orders read one index entry per order of the window, and on PostgreSQL a
table row each too (index-only scans need a vacuumed table): 734,000 entries and 727,000 rows
for 6,600 placements of 32 accounts in bench/order.py, the server's CPU per order growing as
the run went on.

The hours are filled from the orders already stored, every state included (the read takes
the rejected ones back out), summed in Python: the floor of a time to its hour is a different
function on each database.

Revision ID: order_0003
Revises: order_0002
Create Date: 2026-12-07
"""
from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "order_0003"
down_revision = "order_0002"
branch_labels = None
depends_on = None

# The rows read from the orders at a time (a server-side cursor on PostgreSQL).
_BATCH = 10_000


def _hour(moment: datetime) -> datetime:
    """The UTC hour of a stored time (SQLite's come back naive, and are UTC). store.hour_of's
    rule, written out: a migration does not import code that may change after it."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def upgrade() -> None:
    hours = op.create_table(
        "order_notional_hours",
        sa.Column("account", sa.String(140), primary_key=True),
        sa.Column("hour_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("units", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("order_orders_account_rejected", "order_orders",
                    ["account", "state", "create_time", "kyc_notional_units"],
                    sqlite_where=sa.text("state = 'REJECTED'"), postgresql_where=sa.text("state = 'REJECTED'"))
    orders = sa.table("order_orders", sa.column("account", sa.String), sa.column("create_time", sa.DateTime(timezone=True)),
                      sa.column("kyc_notional_units", sa.BigInteger))
    sums: defaultdict[tuple[str, datetime], int] = defaultdict(int)
    # The options on the statement alone: on the connection they would stay for alembic's own.
    read = op.get_bind().execute(sa.select(orders.c.account, orders.c.create_time, orders.c.kyc_notional_units),
                                 execution_options={"stream_results": True, "yield_per": _BATCH})
    for account, create_time, units in read:
        sums[(account, _hour(create_time))] += units
    rows = [{"account": account, "hour_start": hour, "units": units} for (account, hour), units in sorted(sums.items())]
    for start in range(0, len(rows), _BATCH):
        op.bulk_insert(hours, rows[start:start + _BATCH])


def downgrade() -> None:
    op.drop_index("order_orders_account_rejected", table_name="order_orders")
    op.drop_table("order_notional_hours")
