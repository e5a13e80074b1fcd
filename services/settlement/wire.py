"""Translation between Matching's trades, stored settlements and the Settlement messages."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from clearmesh.matching.v1 import matching_pb2
from clearmesh.settlement.v1 import settlement_pb2
from services.runtime.timestamps import timestamp
from services.settlement.domain.charges import TradeTerms
from services.settlement.domain.leaves import fee_text
from services.settlement.domain.settlement import Settlement, open_settlement
from services.settlement.domain.states import State
from services.wallet.domain import AssetCatalog

COLLECTION = "settlements"


def state_message(state: State) -> str:
    # The enum value's name: protobuf constructors take names (an unknown one raises ValueError).
    return f"SETTLEMENT_STATE_{state}"


def state_of(message: settlement_pb2.SettlementState) -> State | None:
    """The domain state of a filter value; None for UNSPECIFIED (no filter)."""
    if message == settlement_pb2.SETTLEMENT_STATE_UNSPECIFIED:
        return None
    return State(settlement_pb2.SettlementState.Name(message).removeprefix("SETTLEMENT_STATE_"))


def settlement_of_trade(trade: matching_pb2.Trade, market: matching_pb2.Market, assets: AssetCatalog,
                        fee_rate: Decimal, now: datetime) -> Settlement:
    terms = TradeTerms(price=trade.price, quantity=trade.quantity, buyer=trade.buyer, seller=trade.seller,
                       buy_order=trade.buy_order, sell_order=trade.sell_order,
                       base_asset=market.base_asset, quote_asset=market.quote_asset)
    # RFC 3339 in UTC with "Z", exactly as the trade prints in JSON: the leaf a party re-creates.
    return open_settlement(trade=trade.name, market=trade.market, sequence=trade.sequence, terms=terms,
                           execute_time=trade.execute_time.ToJsonString(), assets=assets, fee_rate=fee_rate,
                           now=now)


class Wire:
    """Formats fees at the quote asset's precision, so equal amounts always print the same."""

    def __init__(self, assets: AssetCatalog) -> None:
        self.assets = assets

    def fee(self, settlement: Settlement, units: int) -> str:
        return fee_text(settlement, units, self.assets)

    def settlement(self, settlement: Settlement) -> settlement_pb2.Settlement:
        progress, anchor = settlement.progress, settlement.anchor
        return settlement_pb2.Settlement(
            name=f"{COLLECTION}/{settlement.settlement_id}", trade=settlement.trade,
            state=state_message(progress.state),
            buyer_fee=self.fee(settlement, settlement.charges.buyer_fee_units),
            seller_fee=self.fee(settlement, settlement.charges.seller_fee_units),
            fee_asset=settlement.terms.quote_asset, attempts=progress.attempts,
            failure_reason=progress.failure_reason or "",
            anchor_signature=anchor.signature if anchor else "", anchor_slot=anchor.slot if anchor else 0,
            batch_root=anchor.root_hex if anchor else "",
            create_time=timestamp(settlement.create_time), update_time=timestamp(settlement.update_time),
            buyer=settlement.terms.buyer, seller=settlement.terms.seller)

