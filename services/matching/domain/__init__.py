"""Pure matching domain: markets, order books, continuous matching and periodic auctions."""

from .commands import (
    CancelOrder,
    ClearAuction,
    Command,
    Expire,
    SetMarketState,
    SubmitOrder,
    apply,
    command_from_dict,
    command_to_dict,
    commands_from_rows,
    commands_to_rows,
)
from .engine import MatchingEngine
from .enums import (
    MarketMode,
    MarketState,
    OrderEventType,
    OrderState,
    OrderType,
    Reason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from .market import Market, default_markets
from .records import Auction, BookView, CancelResult, Level, OrderEvent, SubmitResult, Trade
from .units import (
    lots_to_quantity,
    notional_to_units,
    order_amounts,
    price_to_ticks,
    quantity_to_lots,
    ticks_to_price,
    units_to_notional,
)

__all__ = [
    "Auction", "BookView", "CancelOrder", "CancelResult", "ClearAuction", "Command", "Expire", "Level",
    "Market", "MarketMode", "MarketState", "MatchingEngine", "OrderEvent", "OrderEventType", "OrderState",
    "OrderType", "Reason", "SelfTradePrevention", "SetMarketState", "Side", "SubmitOrder", "SubmitResult",
    "TimeInForce", "Trade", "apply", "command_from_dict", "command_to_dict", "commands_from_rows", "commands_to_rows",
    "default_markets",
    "lots_to_quantity", "notional_to_units", "order_amounts", "price_to_ticks", "quantity_to_lots",
    "ticks_to_price", "units_to_notional",
]
