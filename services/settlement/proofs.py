"""A `SettlementProof` as a party receives it, and checking it: offline against its batch
root, online against the memo of its anchor transaction.

The JSON is the REST shape of `clearmesh.settlement.v1.SettlementProof` (lowerCamelCase;
the proto field names are accepted too): `leaf` is the canonical leaf data as text (see
`domain/merkle.py`), `siblings` and `batchRoot` are lowercase hex, `siblingIsLeft` has one
entry per sibling. A `leaf` of exactly 64 hex characters is taken as the leaf's hash
instead (the proof still checks, but cannot name the trade).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from google.protobuf import json_format

from clearmesh.settlement.v1 import settlement_pb2
from services.settlement.chain.base import Anchor, ChainMemo
from services.settlement.chain.rpc import RpcReader
from services.settlement.domain.merkle import (
    HASH_SIZE,
    ProofStep,
    TradeLeaf,
    leaf_from_bytes,
    leaf_hash,
    root_from_memo,
    root_from_proof,
)

_HEX_HASH = re.compile(r"[0-9a-fA-F]{64}")


class ProofFormatError(ValueError):
    """The proof file cannot be read as a SettlementProof; the message says which part."""


@dataclass(frozen=True, slots=True)
class Proof:
    settlement: str
    leaf_data: bytes | None  # None when the proof carries only the leaf hash
    leaf_hash: bytes
    steps: tuple[ProofStep, ...]
    batch_root: bytes
    anchor_signature: str
    anchor_slot: int

    @property
    def trade(self) -> TradeLeaf | None:
        return leaf_from_bytes(self.leaf_data) if self.leaf_data is not None else None


@dataclass(slots=True)
class Verdict:
    """What a check established (`facts`) and what did not hold (`differences`)."""

    facts: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def verifies(self) -> bool:
        return not self.differences


class AnchorReader(Protocol):
    """Reads a confirmed transaction's memo: `RpcReader` for a cluster, `LiteSvmChain` in-process."""

    async def read(self, signature: str) -> ChainMemo | None: ...


def proof_message(
    settlement: str, leaf_data: bytes, steps: Sequence[ProofStep], batch_root: bytes, anchor: Anchor,
) -> settlement_pb2.SettlementProof:
    """The wire form of one settlement's proof: what `parse_proof` reads back."""
    return settlement_pb2.SettlementProof(
        settlement=settlement,
        leaf=leaf_data.decode("utf-8"),
        siblings=[step.sibling.hex() for step in steps],
        sibling_is_left=[step.sibling_is_left for step in steps],
        batch_root=batch_root.hex(),
        anchor_signature=anchor.signature,
        anchor_slot=anchor.slot,
    )


def parse_proof(text: str) -> Proof:
    try:
        message = json_format.Parse(text, settlement_pb2.SettlementProof())
    except json_format.ParseError as exc:
        raise ProofFormatError(f"not a SettlementProof: {exc}") from exc
    if len(message.siblings) != len(message.sibling_is_left):
        raise ProofFormatError(
            f"siblings has {len(message.siblings)} entries but siblingIsLeft has {len(message.sibling_is_left)}"
        )
    if _HEX_HASH.fullmatch(message.leaf):
        leaf_data, hashed = None, bytes.fromhex(message.leaf)
    else:
        leaf_data = message.leaf.encode("utf-8")
        hashed = leaf_hash(leaf_data)
        try:
            leaf_from_bytes(leaf_data)
        except ValueError as exc:
            raise ProofFormatError(f"leaf: {exc}") from exc
    steps = tuple(
        ProofStep(_hash(f"siblings[{index}]", sibling), is_left)
        for index, (sibling, is_left) in enumerate(zip(message.siblings, message.sibling_is_left, strict=True))
    )
    return Proof(
        settlement=message.settlement, leaf_data=leaf_data, leaf_hash=hashed, steps=steps,
        batch_root=_hash("batchRoot", message.batch_root),
        anchor_signature=message.anchor_signature, anchor_slot=message.anchor_slot,
    )


def check_offline(proof: Proof) -> Verdict:
    """Does the leaf, folded with the siblings, give the batch root?"""
    verdict = Verdict()
    trade = proof.trade
    if trade is None:
        verdict.facts.append("the proof carries only the leaf hash; compare it with your own trade's")
    else:
        verdict.facts.append(describe(trade))
    verdict.facts.append(f"leaf hash {proof.leaf_hash.hex()}")
    computed = root_from_proof(proof.leaf_hash, proof.steps)
    if computed == proof.batch_root:
        verdict.facts.append(f"root {computed.hex()} (from the leaf and {len(proof.steps)} siblings) is the batch root")
    else:
        verdict.differences.append(
            f"the leaf and siblings give root {computed.hex()}, but batchRoot is {proof.batch_root.hex()}"
        )
    return verdict


async def check_anchor(proof: Proof, reader: AnchorReader) -> Verdict:
    """Does the anchor transaction's memo carry the batch root (in the slot the proof says)?"""
    verdict = Verdict()
    found = await reader.read(proof.anchor_signature)
    if found is None:
        verdict.differences.append(f"no confirmed, successful transaction {proof.anchor_signature} on the chain")
        return verdict
    verdict.facts.append(f"transaction {proof.anchor_signature} is in slot {found.slot}, signed by {found.signer}")
    anchored = root_from_memo(found.memo)
    if anchored is None:
        verdict.differences.append(f"its memo {found.memo!r} is not a clearmesh anchor")
    elif anchored != proof.batch_root:
        verdict.differences.append(
            f"its memo anchors root {anchored.hex()}, but batchRoot is {proof.batch_root.hex()}"
        )
    else:
        verdict.facts.append(f"its memo anchors root {anchored.hex()}, the batch root")
    if found.slot != proof.anchor_slot:
        verdict.differences.append(f"anchorSlot is {proof.anchor_slot}, but the transaction is in slot {found.slot}")
    return verdict


async def check_anchor_over_rpc(proof: Proof, rpc_url: str, *, timeout: float) -> Verdict:
    """`check_anchor` against the cluster at `rpc_url`; Unavailable when it cannot be asked."""
    reader = RpcReader(rpc_url, timeout=timeout)
    try:
        return await check_anchor(proof, reader)
    finally:
        await reader.close()


def describe(trade: TradeLeaf) -> str:
    return (
        f"trade {trade.trade} ({trade.market}, sequence {trade.sequence}): {trade.buyer} bought {trade.quantity} "
        f"from {trade.seller} at {trade.price}, fees {trade.buyer_fee} (buyer) / {trade.seller_fee} (seller) "
        f"{trade.fee_asset}, executed {trade.execute_time}"
    )


def _hash(name: str, text: str) -> bytes:
    if not _HEX_HASH.fullmatch(text):
        raise ProofFormatError(f"{name} must be {HASH_SIZE} bytes as {2 * HASH_SIZE} hex characters, got {text!r}")
    return bytes.fromhex(text)
