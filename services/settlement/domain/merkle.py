"""Merkle proofs over a batch of settled trades, and the memo that anchors a batch's root.

A batch's trades become leaves; the root of their tree is written on Solana (a memo), so
the platform cannot later change what it settled. Any party holding one trade's leaf and
its proof can recompute the root and compare it with the anchored one, offline.

The rules, which a verifier in any language must follow exactly:

- Leaf data (`leaf_bytes`): the trade as a JSON object whose keys are the `TradeLeaf`
  field names (`buyer`, `buyer_fee`, `execute_time`, `fee_asset`, `market`, `price`,
  `quantity`, `sequence`, `seller`, `seller_fee`, `trade`), sorted by key, with no
  whitespace, encoded as UTF-8. Every value is a JSON string holding the text exactly as
  the wire carries it (decimal strings are not normalised: "1.50" stays "1.50") except
  `sequence`, a JSON integer written in plain decimal digits. Strings escape only what
  JSON requires (`"`, `\\`, and control characters, as `\\n`-style short forms or
  `\\u00xx`); non-ASCII characters are written as themselves. For these values that is
  exactly RFC 8785 (JSON Canonicalization Scheme) output, so any JCS library re-creates it.
  `execute_time` is the trade's time as its REST JSON carries it (protobuf's Timestamp JSON
  form: RFC 3339, UTC, "Z", with 0, 3, 6 or 9 fractional digits, `Timestamp.ToJsonString()`).
- Leaf hash: SHA-256(0x00 || leaf data). Inner node: SHA-256(0x01 || left || right). The
  distinct prefixes keep a leaf from ever being passed off as an inner node (second
  preimage), whatever the leaf's bytes.
- Tree shape: leaves in batch order; each level pairs nodes left to right; a level with an
  odd count promotes its last node unchanged to the next level (it is NOT paired with a
  copy of itself, which would let two different batches share a root). A one-leaf batch's
  root is its leaf hash. An empty batch has no root.
- Proof: the siblings met on the way from the leaf up to the root, each with the side it
  sits on; a promoted node adds no step at its level.
- Memo: `clearmesh:v1:` followed by the root as 64 lowercase hex characters (ASCII).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
MEMO_PREFIX = b"clearmesh:v1:"
_MEMO_PATTERN = re.compile(rb"clearmesh:v1:([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class TradeLeaf:
    """One settled trade, as a party can check it against its own records."""

    trade: str  # "markets/BTC-USDC/trades/42"
    market: str  # "markets/BTC-USDC"
    sequence: int
    price: str  # decimal strings exactly as on the wire
    quantity: str
    buyer: str  # "accounts/alice"
    seller: str
    buyer_fee: str
    seller_fee: str
    fee_asset: str
    execute_time: str  # RFC 3339, UTC, "Z"


_FIELD_NAMES = tuple(field.name for field in fields(TradeLeaf))


@dataclass(frozen=True, slots=True)
class ProofStep:
    sibling: bytes
    sibling_is_left: bool


def leaf_bytes(leaf: TradeLeaf) -> bytes:
    """The canonical encoding of a trade (see the module docstring)."""
    # bool is an int subclass; json would write `true`, which no verifier would re-create.
    if type(leaf.sequence) is not int:
        raise TypeError(f"sequence must be an int, got {type(leaf.sequence).__name__}")
    # A plain dict, not dataclasses.asdict (a deep copy, twice the cost of the encoding).
    values = {name: getattr(leaf, name) for name in _FIELD_NAMES}
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_from_bytes(data: bytes) -> TradeLeaf:
    """The trade a leaf's data names; ValueError unless `data` is exactly its canonical encoding."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"leaf data is not UTF-8 JSON: {exc}") from exc
    expected = set(_FIELD_NAMES)
    if not isinstance(parsed, dict) or set(parsed) != expected:
        raise ValueError(f"leaf data must be a JSON object with exactly the keys {sorted(expected)}")
    sequence = parsed["sequence"]
    if type(sequence) is not int or any(
        not isinstance(parsed[name], str) for name in expected - {"sequence"}
    ):
        raise ValueError("leaf data must hold `sequence` as an integer and every other value as a string")
    leaf = TradeLeaf(**parsed)
    # Anything else (spaces, unsorted keys, "1e3") would hash differently from what was anchored.
    if leaf_bytes(leaf) != data:
        raise ValueError("leaf data is not in canonical form (sorted keys, no whitespace, minimal escapes)")
    return leaf


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The root of the batch whose leaf hashes are given in batch order."""
    return _levels(leaf_hashes)[-1][0]


def merkle_proof(leaf_hashes: Sequence[bytes], index: int) -> list[ProofStep]:
    """The steps from leaf `index` up to the root, lowest first."""
    levels = _levels(leaf_hashes)
    if not 0 <= index < len(levels[0]):
        raise IndexError(f"leaf index {index} is outside a batch of {len(levels[0])}")
    return _proof(levels, index)


def merkle_proofs(leaf_hashes: Sequence[bytes]) -> list[list[ProofStep]]:
    """Every leaf's proof, in batch order, building the tree once (not once per leaf)."""
    levels = _levels(leaf_hashes)
    return [_proof(levels, index) for index in range(len(levels[0]))]


def root_from_proof(leaf: bytes, steps: Sequence[ProofStep]) -> bytes:
    """The root a proof leads to from a leaf hash (compare it with the anchored root)."""
    node = leaf
    for step in steps:
        if len(step.sibling) != HASH_SIZE:
            raise ValueError(f"a sibling must be {HASH_SIZE} bytes, got {len(step.sibling)}")
        node = node_hash(step.sibling, node) if step.sibling_is_left else node_hash(node, step.sibling)
    return node


def verify_proof(leaf_data: bytes, steps: Sequence[ProofStep], root: bytes) -> bool:
    """Whether `leaf_data` is in the batch whose root is `root`, by this proof."""
    try:
        return root_from_proof(leaf_hash(leaf_data), steps) == root
    except ValueError:
        return False  # a malformed sibling proves nothing


def memo_for_root(root: bytes) -> bytes:
    if len(root) != HASH_SIZE:
        raise ValueError(f"a root must be {HASH_SIZE} bytes, got {len(root)}")
    return MEMO_PREFIX + root.hex().encode("ascii")


def root_from_memo(memo: bytes) -> bytes | None:
    """The root a memo anchors, or None when the memo is not one of ours."""
    match = _MEMO_PATTERN.fullmatch(memo)
    return bytes.fromhex(match.group(1).decode("ascii")) if match else None


def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """The tree bottom-up: the leaves first, the one-node root level last."""
    if not leaf_hashes:
        raise ValueError("an empty batch has no Merkle root")
    for position, leaf in enumerate(leaf_hashes):
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash {position} must be {HASH_SIZE} bytes, got {len(leaf)}")
    levels = [list(leaf_hashes)]
    while len(level := levels[-1]) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        levels.append([*paired, level[-1]] if len(level) % 2 else paired)
    return levels


def _proof(levels: list[list[bytes]], index: int) -> list[ProofStep]:
    steps: list[ProofStep] = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):  # otherwise this node is the odd one, promoted without a step
            steps.append(ProofStep(level[sibling], sibling_is_left=sibling < index))
        index //= 2
    return steps
