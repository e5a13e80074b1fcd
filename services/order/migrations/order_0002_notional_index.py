"""The account's notional of the last 24 h read from an index alone: the (account, create_time)
index extended by the two columns the placement's sum reads (state, kyc_notional_units).

With only (account, create_time), the sum fetched every one of the account's orders of the
window from the table, a row each on pages of their own; on SQLite a reader's page cache is
dropped whenever another connection has committed since its last read (WAL), so under load
each was a read from the file or the log: ~1 ms per placement at 250 orders per account
(interleaved with commits), growing with the account's history. Covered, the same sum reads a
few index pages (~40 µs there).

Revision ID: order_0002
Revises: order_0001
Create Date: 2026-12-06
"""
from alembic import op

revision = "order_0002"
down_revision = "order_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("order_orders_account_notional", "order_orders",
                    ["account", "create_time", "state", "kyc_notional_units"])
    op.drop_index("order_orders_account_create_time", table_name="order_orders")


def downgrade() -> None:
    op.create_index("order_orders_account_create_time", "order_orders", ["account", "create_time"])
    op.drop_index("order_orders_account_notional", table_name="order_orders")
