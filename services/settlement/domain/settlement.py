"""One Settlement per trade, named after it, and the ledger transfer it posts (named after it
too, so a repeated posting is a no-op at the Wallet)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from services.runtime.errors import FailedPrecondition, InvalidArgument
from services.settlement.domain.charges import Charges, FilledBefore, TradeTerms, charges_for
from services.settlement.domain.states import Progress, State, failed_at_intake
from services.wallet.domain import AssetCatalog

_TRADE_NAME = re.compile(r"markets/([^/]+)/trades/([0-9]+)")


def settlement_id_for(trade: str) -> str:
    """`markets/BTC-USDC/trades/42` → `BTC-USDC-42` (one path segment, as the resource needs)."""
    match = _TRADE_NAME.fullmatch(trade)
    if match is None:
        raise ValueError(f"not a trade name: {trade!r}")
    return f"{match.group(1)}-{match.group(2)}"


def transfer_id_for(trade: str) -> str:
    """The Wallet transfer of a trade's postings: the trade's name (`transfers/markets/X/trades/7`)."""
    return trade


@dataclass(frozen=True, slots=True)
class AnchorRef:
    """Where an anchored settlement sits: its batch, the batch's root and memo transaction."""

    batch_id: int
    position: int
    root_hex: str
    signature: str
    slot: int


@dataclass(frozen=True, slots=True)
class Settlement:
    settlement_id: str
    trade: str
    market: str
    sequence: int
    terms: TradeTerms
    charges: Charges
    # RFC 3339 UTC ("Z"), as Matching's Trade.execute_time prints in JSON: the leaf carries it.
    execute_time: str
    progress: Progress
    create_time: datetime
    update_time: datetime
    anchor: AnchorRef | None = None

    def involves(self, account: str) -> bool:
        return account in (self.terms.buyer, self.terms.seller)


def open_settlement(*, trade: str, market: str, sequence: int, terms: TradeTerms, execute_time: str,
                    assets: AssetCatalog, fee_rate: Decimal, now: datetime) -> Settlement:
    """A new trade's settlement: PENDING with its charges as if its orders had filled nothing
    before (intake charges it for real, in trade order: `charge_in_order`), or FAILED when it
    cannot be charged (an asset the Wallet does not know): recorded either way, so every trade
    has exactly one."""
    try:
        charges, progress = charges_for(terms, assets, fee_rate), Progress(State.PENDING)
    except InvalidArgument as error:
        charges, progress = Charges(0, 0, 0, 0), failed_at_intake(f"{error.reason}: {error.message}")
    return Settlement(settlement_id_for(trade), trade, market, sequence, terms, charges, execute_time,
                      progress, now, now)


def charge_in_order(settlements: Sequence[Settlement], filled: Mapping[str, int], assets: AssetCatalog,
                    fee_rate: Decimal) -> tuple[list[Settlement], dict[str, int]]:
    """New settlements charged in trade order, each trade's fees being what it adds to its
    orders' fees; `filled` is each order's notional charged so far, and the updated figures are
    returned beside the settlements. A settlement that could not be charged is left as it is."""
    now_filled = dict(filled)
    charged_ones: list[Settlement] = []
    for settlement in sorted(settlements, key=lambda s: s.sequence):
        if settlement.charges.notional_units:
            settlement = _charged_after(settlement, now_filled, assets, fee_rate)
        charged_ones.append(settlement)
    return charged_ones, {order: now_filled[order] for order in now_filled if now_filled[order] != filled.get(order)}


def _charged_after(settlement: Settlement, filled: dict[str, int], assets: AssetCatalog,
                   fee_rate: Decimal) -> Settlement:
    terms = settlement.terms
    before = FilledBefore(filled.get(terms.buy_order, 0), filled.get(terms.sell_order, 0))
    charges = charges_for(terms, assets, fee_rate, before)
    filled[terms.buy_order] = before.buy_order + charges.notional_units
    filled[terms.sell_order] = before.sell_order + charges.notional_units
    return replace(settlement, charges=charges)


def charged(settlement: Settlement, filled: Mapping[str, int], assets: AssetCatalog,
            fee_rate: Decimal) -> tuple[Settlement, dict[str, int]]:
    """The settlement with its charges, computing them if intake could not (a trade FAILED at
    intake, retried once its asset is configured), with its orders' updated filled notional;
    FailedPrecondition if it still cannot be charged."""
    if settlement.charges.notional_units:
        return settlement, {}
    try:
        charges_for(settlement.terms, assets, fee_rate)
    except InvalidArgument as error:
        raise FailedPrecondition(error.reason, f"{settlement.trade} still cannot be charged: {error.message}",
                                 metadata=error.metadata) from None
    now_filled = dict(filled)
    settlement = _charged_after(settlement, now_filled, assets, fee_rate)
    terms = settlement.terms
    return settlement, {order: now_filled[order] for order in (terms.buy_order, terms.sell_order)}
