"""What one trade moves in the ledger: the notional, each side's fee, and the postings.

The Order service holds, and releases at an order's end, exactly what these charges consume
(the hold protocol, services/order): the buyer's hold pays notional + buyer fee (in the quote
asset), the seller's hold delivers the quantity (base asset); the seller receives notional −
seller fee and `system/fees` both fees. A trade's fee on each side is what it adds to that
side's ORDER's fee (`services.runtime.fees.fill_fee_units`): an order's fees come to exactly
`fee_units(its filled notional)` however Matching split it into trades, which is the figure the
Order service holds for and releases against. The notional is always exact because markets
only exist where tick × lot is a whole number of quote units.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation

from services.runtime.errors import DomainError, InvalidArgument
from services.runtime.fees import fill_fee_units
from services.settlement.domain.reasons import SettlementReason
from services.wallet.domain import (
    AssetCatalog,
    Posting,
    SystemAccount,
    build_trade_legs,
    from_units,
    legs_to_postings,
    to_units,
)

_EXACT = Context(prec=80)
ORDER_PREFIX = "orders/"


@dataclass(frozen=True, slots=True)
class TradeTerms:
    """A trade as Matching reports it: decimal strings exactly as on the wire."""

    price: str
    quantity: str
    buyer: str
    seller: str
    buy_order: str
    sell_order: str
    base_asset: str
    quote_asset: str


@dataclass(frozen=True, slots=True)
class Charges:
    """A trade's amounts in minor units: what its postings move."""

    notional_units: int
    quantity_units: int
    buyer_fee_units: int
    seller_fee_units: int


def hold_of(order: str) -> str:
    """The Wallet hold an order placed: the hold id is the order id (`orders/{id}` → `{id}`)."""
    return order.removeprefix(ORDER_PREFIX)


@dataclass(frozen=True, slots=True)
class FilledBefore:
    """The notional each side's order had filled in the trades charged before this one."""

    buy_order: int = 0
    sell_order: int = 0


def charges_for(terms: TradeTerms, assets: AssetCatalog, fee_rate: Decimal,
                before: FilledBefore = FilledBefore()) -> Charges:
    """The trade's notional and fees; InvalidArgument when its assets or amounts cannot be posted."""
    quote = assets.get(terms.quote_asset)
    base = assets.get(terms.base_asset)
    missing = [code for code, asset in ((terms.base_asset, base), (terms.quote_asset, quote)) if asset is None]
    if base is None or quote is None:
        raise InvalidArgument(SettlementReason.UNKNOWN_ASSET,
                              f"the Wallet has no asset {' or '.join(missing)}",
                              metadata={"assets": ",".join(missing)})
    try:
        price, quantity = Decimal(terms.price), Decimal(terms.quantity)
        notional = to_units(quote, _EXACT.multiply(price, quantity), field="notional")
        quantity_units = to_units(base, quantity, field="quantity")
    except (InvalidOperation, DomainError) as error:
        raise InvalidArgument(SettlementReason.INVALID_TRADE,
                              f"price {terms.price} × quantity {terms.quantity} cannot be posted: {error}") from None
    if notional <= 0 or quantity_units <= 0:
        raise InvalidArgument(SettlementReason.INVALID_TRADE, "a trade moves a positive price and quantity")
    return Charges(notional, quantity_units, fill_fee_units(before.buy_order, notional, fee_rate),
                   fill_fee_units(before.sell_order, notional, fee_rate))


def trade_postings(terms: TradeTerms, charges: Charges, assets: AssetCatalog) -> tuple[Posting, ...]:
    """The trade's balanced postings, consuming the buyer's and the seller's order holds."""
    base, quote = assets[terms.base_asset], assets[terms.quote_asset]
    legs = build_trade_legs(
        buyer=terms.buyer, seller=terms.seller, base=base, quote=quote,
        quantity=from_units(base, charges.quantity_units),
        quote_amount=from_units(quote, charges.notional_units),
        buyer_fee=from_units(quote, charges.buyer_fee_units),
        seller_fee=from_units(quote, charges.seller_fee_units),
        buyer_hold_id=hold_of(terms.buy_order), seller_hold_id=hold_of(terms.sell_order),
        fee_account=SystemAccount.FEES)
    return legs_to_postings(legs, assets)
