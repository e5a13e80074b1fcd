"""The batch Merkle tree: pinned vectors a verifier in another language can check against,
and properties over random batches."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.settlement.domain.merkle import (
    ProofStep,
    TradeLeaf,
    leaf_bytes,
    leaf_from_bytes,
    leaf_hash,
    memo_for_root,
    merkle_proof,
    merkle_proofs,
    merkle_root,
    root_from_memo,
    root_from_proof,
    verify_proof,
)

TRADE = TradeLeaf(
    trade="markets/BTC-USDC/trades/42", market="markets/BTC-USDC", sequence=42,
    price="30000.50", quantity="0.25", buyer="accounts/alice", seller="accounts/bob",
    buyer_fee="7.50", seller_fee="7.50", fee_asset="USDC", execute_time="2026-12-06T01:02:03Z",
)
CANONICAL = (
    b'{"buyer":"accounts/alice","buyer_fee":"7.50","execute_time":"2026-12-06T01:02:03Z",'
    b'"fee_asset":"USDC","market":"markets/BTC-USDC","price":"30000.50","quantity":"0.25",'
    b'"seller":"accounts/bob","seller_fee":"7.50","sequence":42,"trade":"markets/BTC-USDC/trades/42"}'
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def vector_leaves(count: int) -> list[bytes]:
    """Leaf i of the pinned vectors: the leaf hash of the single byte i."""
    return [sha256(b"\x00" + bytes([i])) for i in range(count)]


# --- pinned vectors ------------------------------------------------------------------------

def test_leaf_bytes_is_sorted_compact_json_with_sequence_as_integer() -> None:
    assert leaf_bytes(TRADE) == CANONICAL


def test_leaf_hash_of_the_example_trade_is_pinned() -> None:
    # Also: printf '\x00%s' "$CANONICAL" | sha256sum
    assert leaf_hash(CANONICAL).hex() == "234af354a6d1d3ccbff40948a99dc85421effe29e5d98d705e2fe65f78184c62"


def test_leaf_bytes_keeps_non_ascii_as_utf8_and_escapes_only_what_json_requires() -> None:
    data = leaf_bytes(replace(TRADE, buyer='accounts/zoë"\n'))
    assert b'"buyer":"accounts/zo\xc3\xab\\"\\n"' in data


def test_one_leaf_root_is_the_leaf_hash() -> None:
    [leaf] = vector_leaves(1)
    assert merkle_root([leaf]) == leaf
    assert leaf.hex() == "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"


def test_two_leaf_root_hashes_them_with_the_inner_prefix() -> None:
    a, b = vector_leaves(2)
    assert merkle_root([a, b]) == sha256(b"\x01" + a + b)
    assert merkle_root([a, b]).hex() == "a20bf9a7cc2dc8a08f5f415a71b19f6ac427bab54d24eec868b5d3103449953a"


def test_odd_last_node_is_promoted_not_duplicated() -> None:
    a, b, c = vector_leaves(3)
    assert merkle_root([a, b, c]) == sha256(b"\x01" + sha256(b"\x01" + a + b) + c)
    assert merkle_root([a, b, c]).hex() == "3b6cccd7e3e023ff393006f030315ee7ad9eb111b022b41fba7e5b7a3973f688"
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])


def test_five_leaf_root_is_pinned() -> None:
    a, b, c, d, e = vector_leaves(5)
    expected = sha256(b"\x01" + sha256(b"\x01" + sha256(b"\x01" + a + b) + sha256(b"\x01" + c + d)) + e)
    assert merkle_root([a, b, c, d, e]) == expected
    assert expected.hex() == "b855b42d6c30f5b087e05266783fbd6e394f7b926013ccaa67700a8b0c5a596f"


def test_proof_of_the_promoted_leaf_skips_the_levels_it_was_promoted_through() -> None:
    a, b, c, d, e = vector_leaves(5)
    ab_cd = sha256(b"\x01" + sha256(b"\x01" + a + b) + sha256(b"\x01" + c + d))
    assert merkle_proof([a, b, c, d, e], 4) == [ProofStep(ab_cd, sibling_is_left=True)]


def test_proof_of_a_right_leaf_names_its_left_sibling() -> None:
    a, b, c = vector_leaves(3)
    assert merkle_proof([a, b, c], 1) == [ProofStep(a, True), ProofStep(c, False)]


def test_memo_is_the_prefix_and_lowercase_hex_root() -> None:
    root = bytes(range(32))
    assert memo_for_root(root) == b"clearmesh:v1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


# --- errors --------------------------------------------------------------------------------

def test_empty_batch_has_no_root() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        merkle_root([])


def test_empty_batch_has_no_proof() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        merkle_proof([], 0)


def test_leaf_hash_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="leaf hash 1 must be 32 bytes"):
        merkle_root([bytes(32), bytes(31)])


@pytest.mark.parametrize("index", [-1, 3])
def test_proof_index_outside_the_batch_is_refused(index: int) -> None:
    with pytest.raises(IndexError):
        merkle_proof(vector_leaves(3), index)


def test_boolean_sequence_is_refused() -> None:
    with pytest.raises(TypeError):
        leaf_bytes(replace(TRADE, sequence=True))


def test_memo_of_a_root_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError):
        memo_for_root(bytes(31))


@pytest.mark.parametrize("memo", [
    b"",
    b"clearmesh:v1:" + b"ab" * 31,
    b"clearmesh:v1:" + b"AB" * 32,
    b"clearmesh:v2:" + b"ab" * 32,
    b"clearmesh:v1:" + b"ab" * 32 + b"\n",
    b"hello world",
])
def test_memo_that_is_not_ours_has_no_root(memo: bytes) -> None:
    assert root_from_memo(memo) is None


def test_sibling_of_the_wrong_size_verifies_nothing() -> None:
    leaves = vector_leaves(2)
    assert not verify_proof(b"\x00", [ProofStep(leaves[1][:31], False)], merkle_root(leaves))


# --- parsing leaf data ---------------------------------------------------------------------

def test_leaf_from_bytes_reads_back_the_trade() -> None:
    assert leaf_from_bytes(CANONICAL) == TRADE


@pytest.mark.parametrize("data", [
    CANONICAL.replace(b",", b", "),                                      # whitespace
    json.dumps(json.loads(CANONICAL), separators=(",", ":")).encode()[::-1],  # not JSON
    CANONICAL.replace(b'"sequence":42', b'"sequence":42.0'),             # not an integer
    CANONICAL.replace(b'"sequence":42', b'"sequence":"42"'),             # a string
    CANONICAL.replace(b'"price":"30000.50",', b""),                      # a key missing
    b'{"buyer":"accounts/alice"}',
    b"[]",
    b"\xff",
])
def test_leaf_from_bytes_refuses_anything_but_canonical_leaf_data(data: bytes) -> None:
    with pytest.raises(ValueError):
        leaf_from_bytes(data)


def test_leaf_from_bytes_refuses_unsorted_keys() -> None:
    unsorted = json.dumps({"trade": TRADE.trade, **json.loads(CANONICAL)}, separators=(",", ":")).encode()
    with pytest.raises(ValueError, match="canonical"):
        leaf_from_bytes(unsorted)


# --- properties ----------------------------------------------------------------------------

text = st.text(min_size=0, max_size=12)
trades = st.builds(
    TradeLeaf, trade=text, market=text, sequence=st.integers(0, 2**53), price=text, quantity=text,
    buyer=text, seller=text, buyer_fee=text, seller_fee=text, fee_asset=text, execute_time=text,
)
batches = st.lists(st.binary(min_size=1, max_size=24), min_size=1, max_size=40)


@given(trades)
def test_any_trade_round_trips_through_its_canonical_bytes(trade: TradeLeaf) -> None:
    assert leaf_from_bytes(leaf_bytes(trade)) == trade


@given(batches)
def test_every_proof_verifies(batch: list[bytes]) -> None:
    hashes = [leaf_hash(data) for data in batch]
    root = merkle_root(hashes)
    for index, data in enumerate(batch):
        assert verify_proof(data, merkle_proof(hashes, index), root)


@given(batches)
def test_all_proofs_at_once_equal_each_proof(batch: list[bytes]) -> None:
    hashes = [leaf_hash(data) for data in batch]
    assert merkle_proofs(hashes) == [merkle_proof(hashes, index) for index in range(len(hashes))]


@given(batches, st.data())
def test_tampered_leaf_fails(batch: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(item) for item in batch]
    index = data.draw(st.integers(0, len(batch) - 1))
    tampered = data.draw(st.binary(max_size=24).filter(lambda other: other != batch[index]))
    assert not verify_proof(tampered, merkle_proof(hashes, index), merkle_root(hashes))


@given(st.lists(st.binary(min_size=1, max_size=24), min_size=2, max_size=40), st.data())
def test_tampered_sibling_fails(batch: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(item) for item in batch]
    index = data.draw(st.integers(0, len(batch) - 1))
    steps = merkle_proof(hashes, index)
    at = data.draw(st.integers(0, len(steps) - 1))
    bit = data.draw(st.integers(0, 255))
    flipped = bytearray(steps[at].sibling)
    flipped[bit // 8] ^= 1 << (bit % 8)
    steps[at] = ProofStep(bytes(flipped), steps[at].sibling_is_left)
    assert not verify_proof(batch[index], steps, merkle_root(hashes))


# Distinct leaves: a sibling equal to its node would hash the same on either side.
@given(st.lists(st.binary(min_size=1, max_size=24), min_size=2, max_size=40, unique=True), st.data())
def test_sibling_on_the_wrong_side_fails(batch: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(item) for item in batch]
    index = data.draw(st.integers(0, len(batch) - 1))
    steps = merkle_proof(hashes, index)
    at = data.draw(st.integers(0, len(steps) - 1))
    steps[at] = ProofStep(steps[at].sibling, not steps[at].sibling_is_left)
    assert not verify_proof(batch[index], steps, merkle_root(hashes))


@given(batches, st.data())
def test_tampered_root_fails(batch: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(item) for item in batch]
    index = data.draw(st.integers(0, len(batch) - 1))
    other_root = data.draw(st.binary(min_size=32, max_size=32).filter(lambda r: r != merkle_root(hashes)))
    assert not verify_proof(batch[index], merkle_proof(hashes, index), other_root)


@given(batches)
def test_root_depends_only_on_the_leaves_and_their_order(batch: list[bytes]) -> None:
    hashes = [leaf_hash(item) for item in batch]
    # Same leaves in fresh objects: the same root, every time.
    assert merkle_root([bytes(h) for h in hashes]) == merkle_root(hashes)
    reordered = hashes[1:] + hashes[:1]
    if reordered != hashes:
        assert merkle_root(reordered) != merkle_root(hashes)


@given(batches, st.binary(min_size=1, max_size=24))
def test_adding_a_leaf_changes_the_root(batch: list[bytes], extra: bytes) -> None:
    hashes = [leaf_hash(item) for item in batch]
    assert merkle_root([*hashes, leaf_hash(extra)]) != merkle_root(hashes)


@given(batches)
def test_proof_folds_up_to_the_root(batch: list[bytes]) -> None:
    hashes = [leaf_hash(item) for item in batch]
    root = merkle_root(hashes)
    assert all(root_from_proof(h, merkle_proof(hashes, i)) == root for i, h in enumerate(hashes))


@given(st.binary(min_size=32, max_size=32))
def test_memo_round_trips_the_root(root: bytes) -> None:
    assert root_from_memo(memo_for_root(root)) == root
