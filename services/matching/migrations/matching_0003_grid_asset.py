"""The energy market's base asset is the Wallet's: GRID, not KWH.

Earlier versions created the default GRID-USDC market with base asset `KWH`, an asset the
Wallet does not know (settings.assets), so no energy order could be held or settled. Stored
market definitions and snapshots (which carry the definition the engine restores) that name
KWH are rewritten to GRID. Nothing else changes: the journal is in ticks and lots, which keep
their meaning, so a stored market keeps its tick and lot sizes even where a new default differs.
Downgrading names KWH again in the market that earlier versions created with it, GRID-USDC.

Revision ID: matching_0003
Revises: matching_0002
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "matching_0003"
down_revision = "matching_0002"
branch_labels = None
depends_on = None

OLD, NEW = "KWH", "GRID"
ENERGY_MARKET = "GRID-USDC"


def _renamed(definition: dict[str, Any], old: str, new: str) -> bool:
    """Rename asset `old` to `new` in a market definition, in place; whether anything changed."""
    changed = False
    for field in ("base_asset", "quote_asset"):
        if definition.get(field) == old:
            definition[field] = new
            changed = True
    return changed


def _rewrite(old: str, new: str, chosen: Callable[[str], bool]) -> None:
    bind = op.get_bind()
    for name, definition in bind.execute(sa.text("SELECT name, definition FROM matching_markets")).all():
        market = orjson.loads(definition)
        if chosen(name) and _renamed(market, old, new):
            bind.execute(sa.text("UPDATE matching_markets SET definition = :definition WHERE name = :name"),
                         {"definition": orjson.dumps(market).decode(), "name": name})
    for name, sequence, image in bind.execute(
            sa.text("SELECT market, sequence, snapshot FROM matching_snapshots")).all():
        snapshot = orjson.loads(image)
        if chosen(name) and _renamed(snapshot["market"], old, new):
            bind.execute(sa.text("UPDATE matching_snapshots SET snapshot = :snapshot "
                                 "WHERE market = :market AND sequence = :sequence"),
                         {"snapshot": orjson.dumps(snapshot).decode(), "market": name, "sequence": sequence})


def upgrade() -> None:
    _rewrite(OLD, NEW, lambda name: True)


def downgrade() -> None:
    _rewrite(NEW, OLD, lambda name: name == ENERGY_MARKET)
