"""A settlement as a Merkle leaf (`merkle.TradeLeaf`), and the proof of one within its batch.

The leaf holds what a party can check against its own copy of the trade: the trade's wire
fields exactly as Matching sent them, and the fees at the quote asset's precision
("0.050000" USDC), as GetSettlement shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.settlement.domain.merkle import (
    ProofStep,
    TradeLeaf,
    leaf_bytes,
    leaf_hash,
    merkle_proof,
    merkle_root,
)
from services.settlement.domain.settlement import Settlement
from services.wallet.domain import AssetCatalog, format_units


def fee_text(settlement: Settlement, units: int, assets: AssetCatalog) -> str:
    asset = assets.get(settlement.terms.quote_asset)
    # A trade whose quote asset is unknown never posts (FAILED at intake): its fees are 0.
    return format_units(asset, units) if asset is not None else str(units)


def leaf_of(settlement: Settlement, assets: AssetCatalog) -> TradeLeaf:
    terms, charges = settlement.terms, settlement.charges
    return TradeLeaf(
        trade=settlement.trade, market=settlement.market, sequence=settlement.sequence, price=terms.price,
        quantity=terms.quantity, buyer=terms.buyer, seller=terms.seller,
        buyer_fee=fee_text(settlement, charges.buyer_fee_units, assets),
        seller_fee=fee_text(settlement, charges.seller_fee_units, assets),
        fee_asset=terms.quote_asset, execute_time=settlement.execute_time)


def batch_root(members: Sequence[Settlement], assets: AssetCatalog) -> bytes:
    """The Merkle root of settlements in leaf order."""
    return merkle_root([leaf_hash(leaf_bytes(leaf_of(member, assets))) for member in members])


@dataclass(frozen=True, slots=True)
class Proof:
    leaf: bytes  # the canonical leaf data
    steps: list[ProofStep]
    root: bytes


def proof_of(members: Sequence[Settlement], index: int, assets: AssetCatalog) -> Proof:
    """The proof that `members[index]` is in the batch of `members` (in leaf order)."""
    leaves = [leaf_bytes(leaf_of(member, assets)) for member in members]
    hashes = [leaf_hash(data) for data in leaves]
    return Proof(leaves[index], merkle_proof(hashes, index), merkle_root(hashes))
