"""Tombstones of hold ids released before any hold was placed under them, so that a late
PlaceHold of such an id is refused instead of holding money nothing would release
(services/wallet/domain/hold_groups.py).

Revision ID: wallet_0002
Revises: wallet_0001
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "wallet_0002"
down_revision = "wallet_0001"
branch_labels = None
depends_on = None

ID = sa.String(300)


def upgrade() -> None:
    op.create_table(
        "wallet_released_hold_ids",
        sa.Column("hold_id", ID, primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("wallet_released_hold_ids")
