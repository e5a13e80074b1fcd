"""The Order service's orders and its per-market event cursors.

Revision ID: order_0001
Revises:
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "order_0001"
down_revision = None
branch_labels = ("order",)
depends_on = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DECIMAL_TEXT = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "order_orders",
        sa.Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(36), nullable=False, unique=True),
        sa.Column("account", sa.String(140), nullable=False),
        sa.Column("market", sa.String(40), nullable=False),
        sa.Column("side", sa.SmallInteger, nullable=False),
        sa.Column("type", sa.SmallInteger, nullable=False),
        sa.Column("time_in_force", sa.SmallInteger, nullable=False),
        sa.Column("price", DECIMAL_TEXT, nullable=True),
        sa.Column("quantity", DECIMAL_TEXT, nullable=True),
        sa.Column("max_notional", DECIMAL_TEXT, nullable=True),
        sa.Column("post_only", sa.Boolean, nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("hold_asset", sa.String(16), nullable=False),
        sa.Column("hold_units", sa.BigInteger, nullable=False),
        sa.Column("kyc_notional_units", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("filled_quantity", DECIMAL_TEXT, nullable=False),
        sa.Column("average_price", DECIMAL_TEXT, nullable=False),
        sa.Column("reject_reason", sa.String(64), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_sequence", sa.BigInteger, nullable=False),
        sa.Column("fill_sequence", sa.BigInteger, nullable=False),
        sa.Column("filled_value", sa.BigInteger, nullable=False),
        sa.Column("consumed_units", sa.BigInteger, nullable=False),
        sa.Column("release", sa.String(8), nullable=False),
        sa.Column("release_units", sa.BigInteger, nullable=False),
    )
    op.create_index("order_orders_account_seq", "order_orders", ["account", "seq"])
    op.create_index("order_orders_account_create_time", "order_orders", ["account", "create_time"])
    op.create_index("order_orders_state", "order_orders", ["state"])
    op.create_index("order_orders_release", "order_orders", ["release"])
    op.create_table(
        "order_event_cursors",
        sa.Column("market", sa.String(40), primary_key=True),
        sa.Column("sequence", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("order_event_cursors")
    op.drop_table("order_orders")
