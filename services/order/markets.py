"""The markets as Matching defines them, fetched once per process (a market's steps and limits
do not change once created) and joined with the Wallet's asset precisions."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from clearmesh.matching.v1 import matching_pb2

from services.order.domain.market import MarketRules
from services.order.domain.reasons import OrderReason
from services.order.peers import Peers
from services.runtime.errors import FailedPrecondition


def _optional(text: str) -> Decimal | None:
    return Decimal(text) if text else None


class Markets:
    def __init__(self, peers: Peers, precisions: Mapping[str, int]) -> None:
        self._peers = peers
        self._precisions = precisions
        self._known: dict[str, MarketRules] = {}

    def decimals(self, asset: str) -> int:
        if asset not in self._precisions:
            raise FailedPrecondition(OrderReason.UNKNOWN_ASSET, f"the Wallet does not keep {asset}",
                                     metadata={"asset": asset})
        return self._precisions[asset]

    async def get(self, market_id: str) -> MarketRules:
        known = self._known.get(market_id)
        if known is None:
            known = self._known[market_id] = self._rules(await self._peers.market(market_id))
        return known

    def _rules(self, market: matching_pb2.Market) -> MarketRules:
        rules = MarketRules(
            market_id=market.name.removeprefix("markets/"), base_asset=market.base_asset,
            quote_asset=market.quote_asset, tick=Decimal(market.tick_size), lot=Decimal(market.lot_size),
            min_quantity=_optional(market.min_quantity), max_quantity=_optional(market.max_quantity),
            auction=market.mode == matching_pb2.MARKET_MODE_PERIODIC_AUCTION,
            halted=market.state == matching_pb2.MARKET_STATE_HALTED,
            reference_price=_optional(market.reference_price),
            base_decimals=self.decimals(market.base_asset), quote_decimals=self.decimals(market.quote_asset))
        if not rules.settleable:
            raise FailedPrecondition(
                OrderReason.MARKET_NOT_SETTLEABLE,
                f"{market.name}: tick × lot is finer than one unit of {market.quote_asset}, so its fills cannot be settled",
                metadata={"market": market.name})
        return rules
