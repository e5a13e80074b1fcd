"""A hold group's reads and writes on PostgreSQL as two statements: what the group must see,
locked, in one; everything it changed in the other.

Run as it was elsewhere (SQLite keeps that path, store.py), a group cost seven round trips on
PostgreSQL: BEGIN, a SELECT each of its holds, its tombstones and its balances, the INSERT of
new holds, the UPDATE of the balances (through an ORM session: `update_rows` builds its
statement per call), COMMIT; each one waited for while the group's PlaceOrders wait, and
paid for in CPU by the Wallet and the server alike (issue #12). Here it is BEGIN, these two
and COMMIT; a group that changes nothing skips the second.

The read locks in the usual order (runtime/transactions.py): the holds by id, then the
balances by (account, asset). One statement keeps it: its branches run in the order written
(an Append), the holds' CTE is read in full by the first, and the balances' lock needs it
(a release's balance is its stored hold's), so it comes after. The balances locked are the
PlaceHolds' own and those of every stored hold the group names: those `balance_key_of`
picks, and at most a replayed id's stored one beside (locked, unchanged).

The write's parts are data-modifying WITHs: each runs whether or not anything reads it, on
disjoint rows, and all of them or none (one statement, inside the group's transaction). Every
list is an array parameter, so each statement's text is the same for any group and stays
prepared on the connection (asyncpg's cache), with no IN list to pad.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, DateTime, String, bindparam, column, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.database import stored_utc
from services.runtime.direct_statements import DirectStatement
from services.wallet.domain import Balance, BalanceKey, Hold, HoldStatus
from services.wallet.domain.hold_groups import HoldGroupEffects

_TEXTS = ARRAY(String)
_UNITS = ARRAY(BigInteger)
_TIMES = ARRAY(DateTime(timezone=True))

_READ = DirectStatement(text("""
WITH locked_holds AS MATERIALIZED (
    SELECT hold_id, account, asset, units, consumed_units, released_units, create_time
    FROM wallet_holds WHERE hold_id = ANY(:hold_ids) ORDER BY hold_id FOR UPDATE),
locked_balances AS MATERIALIZED (
    SELECT account, asset, total, held FROM wallet_balances
    WHERE (account, asset) IN (SELECT * FROM unnest(:accounts, :assets)
                               UNION SELECT account, asset FROM locked_holds)
    ORDER BY account, asset FOR UPDATE)
SELECT 'H' AS kind, hold_id, account, asset, units, consumed_units, released_units, create_time,
       NULL::bigint AS total, NULL::bigint AS held
FROM locked_holds
UNION ALL
SELECT 'R', hold_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM wallet_released_hold_ids WHERE hold_id = ANY(:hold_ids)
UNION ALL
SELECT 'B', NULL, account, asset, NULL, NULL, NULL, NULL, total, held
FROM locked_balances
""").bindparams(
    bindparam("hold_ids", type_=_TEXTS), bindparam("accounts", type_=_TEXTS), bindparam("assets", type_=_TEXTS),
).columns(
    column("kind", String), column("hold_id", String), column("account", String), column("asset", String),
    column("units", BigInteger), column("consumed_units", BigInteger), column("released_units", BigInteger),
    column("create_time", DateTime(timezone=True)), column("total", BigInteger), column("held", BigInteger),
))

_WRITE = DirectStatement(text("""
WITH tombstones AS (
    INSERT INTO wallet_released_hold_ids (hold_id) SELECT unnest(:tombstones)),
placed AS (
    INSERT INTO wallet_holds (hold_id, account, asset, units, consumed_units, released_units, create_time)
    SELECT * FROM unnest(:placed_ids, :placed_accounts, :placed_assets, :placed_units, :placed_consumed,
                         :placed_released, :placed_times)),
changed AS (
    UPDATE wallet_holds SET consumed_units = new.consumed_units, released_units = new.released_units
    FROM unnest(:changed_ids, :changed_consumed, :changed_released) AS new(hold_id, consumed_units, released_units)
    WHERE wallet_holds.hold_id = new.hold_id)
UPDATE wallet_balances SET total = new.total, held = new.held
FROM unnest(:accounts, :assets, :totals, :helds) AS new(account, asset, total, held)
WHERE wallet_balances.account = new.account AND wallet_balances.asset = new.asset
""").bindparams(
    bindparam("tombstones", type_=_TEXTS),
    bindparam("placed_ids", type_=_TEXTS), bindparam("placed_accounts", type_=_TEXTS),
    bindparam("placed_assets", type_=_TEXTS), bindparam("placed_units", type_=_UNITS),
    bindparam("placed_consumed", type_=_UNITS), bindparam("placed_released", type_=_UNITS),
    bindparam("placed_times", type_=_TIMES),
    bindparam("changed_ids", type_=_TEXTS), bindparam("changed_consumed", type_=_UNITS),
    bindparam("changed_released", type_=_UNITS),
    bindparam("accounts", type_=_TEXTS), bindparam("assets", type_=_TEXTS),
    bindparam("totals", type_=_UNITS), bindparam("helds", type_=_UNITS),
))


@dataclass(frozen=True, slots=True)
class GroupRows:
    """What a hold group reads, as `apply_hold_group` takes it."""

    holds: dict[str, HoldStatus]  # the stored holds among the ids the group names
    released: set[str]  # the stored tombstones among them
    balances: dict[BalanceKey, Balance]  # the stored balance rows it may touch, locked


async def read_group(session: AsyncSession, hold_ids: Sequence[str], place_keys: Set[BalanceKey]) -> GroupRows:
    """Lock the stored holds named by `hold_ids`, then the balances of `place_keys` and of those
    holds; with the tombstones among `hold_ids`. One statement (see the module)."""
    keys = sorted(place_keys)
    ran = await _READ.run(session, {"hold_ids": sorted(set(hold_ids)), "accounts": [key[0] for key in keys],
                                    "assets": [key[1] for key in keys]})
    rows = GroupRows({}, set(), {})
    for row in ran.rows:
        if row.kind == "H":
            hold = Hold(row.hold_id, row.account, row.asset, row.units, stored_utc(row.create_time))
            rows.holds[row.hold_id] = HoldStatus(hold, row.consumed_units, row.released_units)
        elif row.kind == "R":
            rows.released.add(row.hold_id)
        else:
            rows.balances[(row.account, row.asset)] = Balance(row.total, row.held)
    return rows


def changes_nothing(effects: HoldGroupEffects) -> bool:
    return not (effects.tombstones or effects.placed or effects.changed or effects.balances)


async def write_group(session: AsyncSession, effects: HoldGroupEffects) -> None:
    """Everything `effects` changed, in one statement (see the module)."""
    await _WRITE.run(session, _write_params(effects))


def _write_params(effects: HoldGroupEffects) -> Mapping[str, Any]:
    placed, changed, balances = effects.placed, effects.changed, sorted(effects.balances.items())
    return {
        "tombstones": list(effects.tombstones),
        "placed_ids": [s.hold.hold_id for s in placed], "placed_accounts": [s.hold.account for s in placed],
        "placed_assets": [s.hold.asset for s in placed], "placed_units": [s.hold.units for s in placed],
        "placed_consumed": [s.consumed_units for s in placed], "placed_released": [s.released_units for s in placed],
        "placed_times": [s.hold.create_time for s in placed],
        "changed_ids": [s.hold.hold_id for s in changed], "changed_consumed": [s.consumed_units for s in changed],
        "changed_released": [s.released_units for s in changed],
        "accounts": [key[0] for key, _ in balances], "assets": [key[1] for key, _ in balances],
        "totals": [balance.total for _, balance in balances], "helds": [balance.held for _, balance in balances],
    }
