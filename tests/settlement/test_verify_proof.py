"""`clearmesh verify-proof` on proof files built with the merkle module, good and tampered, and
the online check against anchors on the real in-process Solana VM."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from click.testing import CliRunner, Result
from google.protobuf import json_format
from solders.keypair import Keypair
from solders.signature import Signature

from services.cli import main
from services.settlement.chain import Anchor, LiteSvmChain
from services.settlement.domain.merkle import TradeLeaf, leaf_bytes, leaf_hash, memo_for_root, merkle_proofs, merkle_root
from services.settlement.proofs import (
    ProofFormatError,
    check_anchor,
    parse_proof,
    proof_message,
)

ANCHOR = Anchor(signature=str(Signature.new_unique()), slot=1234)


def trade(sequence: int) -> TradeLeaf:
    return TradeLeaf(
        trade=f"markets/BTC-USDC/trades/{sequence}", market="markets/BTC-USDC", sequence=sequence,
        price="30000.50", quantity="0.25", buyer="accounts/alice", seller="accounts/bob",
        buyer_fee="7.50", seller_fee="7.50", fee_asset="USDC", execute_time="2026-12-06T01:02:03Z",
    )


BATCH = [trade(sequence) for sequence in range(1, 6)]
DATA = [leaf_bytes(leaf) for leaf in BATCH]
HASHES = [leaf_hash(data) for data in DATA]
ROOT = merkle_root(HASHES)
PROOFS = merkle_proofs(HASHES)


def proof_json(index: int = 2, anchor: Anchor = ANCHOR, root: bytes = ROOT) -> dict[str, Any]:
    """Trade `index`'s proof in the REST shape (lowerCamelCase, int64 as a string)."""
    message = proof_message(f"settlements/s{index}", DATA[index], PROOFS[index], root, anchor)
    parsed: dict[str, Any] = json.loads(json_format.MessageToJson(message))
    return parsed


@pytest.fixture
def verify(tmp_path: Path) -> Callable[..., Result]:
    def run(proof: dict[str, Any] | str, *options: str) -> Result:
        path = tmp_path / "proof.json"
        path.write_text(proof if isinstance(proof, str) else json.dumps(proof))
        return CliRunner().invoke(main, ["verify-proof", str(path), *options])
    return run


# --- offline ---------------------------------------------------------------------------------

def test_good_proof_verifies_and_names_the_trade(verify: Callable[..., Result]) -> None:
    result = verify(proof_json())
    assert result.exit_code == 0, result.output
    assert "trade markets/BTC-USDC/trades/3 (markets/BTC-USDC, sequence 3)" in result.output
    assert "accounts/alice bought 0.25 from accounts/bob at 30000.50" in result.output
    assert result.output.rstrip().endswith("proof verifies (offline; --rpc-url also checks the anchor)")


@pytest.mark.parametrize("index", range(len(BATCH)))
def test_every_trade_of_the_batch_verifies(verify: Callable[..., Result], index: int) -> None:
    assert verify(proof_json(index)).exit_code == 0


def test_proof_with_proto_field_names_verifies(verify: Callable[..., Result]) -> None:
    message = proof_message("settlements/s2", DATA[2], PROOFS[2], ROOT, ANCHOR)
    result = verify(json_format.MessageToJson(message, preserving_proto_field_name=True))
    assert result.exit_code == 0, result.output


def test_tampered_leaf_does_not_verify_and_says_which_roots_differ(verify: Callable[..., Result]) -> None:
    proof = proof_json()
    proof["leaf"] = leaf_bytes(replace(BATCH[2], price="29000.50")).decode()
    result = verify(proof)
    assert result.exit_code == 1
    assert f"but batchRoot is {ROOT.hex()}" in result.output
    assert "at 29000.50" in result.output  # it names the trade the (tampered) leaf claims
    assert result.output.rstrip().endswith("proof does NOT verify")


def test_tampered_sibling_does_not_verify(verify: Callable[..., Result]) -> None:
    proof = proof_json()
    proof["siblings"][0] = ("0" if proof["siblings"][0][0] != "0" else "1") + proof["siblings"][0][1:]
    assert verify(proof).exit_code == 1


def test_sibling_on_the_wrong_side_does_not_verify(verify: Callable[..., Result]) -> None:
    proof = proof_json()
    proof["siblingIsLeft"][0] = not proof["siblingIsLeft"][0]
    assert verify(proof).exit_code == 1


def test_missing_sibling_does_not_verify(verify: Callable[..., Result]) -> None:
    proof = proof_json()
    del proof["siblings"][-1], proof["siblingIsLeft"][-1]
    assert verify(proof).exit_code == 1


def test_tampered_batch_root_does_not_verify(verify: Callable[..., Result]) -> None:
    result = verify(proof_json(root=bytes(32)))
    assert result.exit_code == 1
    assert f"the leaf and siblings give root {ROOT.hex()}, but batchRoot is {'00' * 32}" in result.output


def test_proof_carrying_only_the_leaf_hash_verifies_without_naming_a_trade(verify: Callable[..., Result]) -> None:
    proof = proof_json()
    proof["leaf"] = HASHES[2].hex()
    result = verify(proof)
    assert result.exit_code == 0, result.output
    assert "only the leaf hash" in result.output
    assert "trades/3" not in result.output


@pytest.mark.parametrize(("change", "complaint"), [
    (lambda p: "{not json", "not a SettlementProof"),
    (lambda p: {**p, "bogus": 1}, "no field named \"bogus\""),
    (lambda p: {**p, "siblings": ["zz" * 32, *p["siblings"][1:]]}, "siblings[0] must be 32 bytes"),
    (lambda p: {**p, "batchRoot": "abcd"}, "batchRoot must be 32 bytes"),
    (lambda p: {**p, "siblingIsLeft": p["siblingIsLeft"][1:]}, "siblingIsLeft has"),
    (lambda p: {**p, "leaf": p["leaf"].replace(",", ", ")}, "leaf: leaf data is not in canonical form"),
])
def test_unreadable_proof_cannot_be_checked(
    verify: Callable[..., Result], change: Callable[[dict[str, Any]], Any], complaint: str,
) -> None:
    changed = change(proof_json())
    result = verify(changed if isinstance(changed, str) else json.dumps(changed))
    assert result.exit_code == 2
    assert complaint in result.output


# --- online, against the real in-process VM --------------------------------------------------

@pytest.fixture
async def vm() -> AsyncIterator[LiteSvmChain]:
    chain = LiteSvmChain(Keypair())
    yield chain
    await chain.close()


async def test_anchor_carrying_the_batch_root_verifies(vm: LiteSvmChain) -> None:
    anchor = await vm.anchor(memo_for_root(ROOT))
    verdict = await check_anchor(parse_proof(json.dumps(proof_json(anchor=anchor))), vm)
    assert verdict.verifies, verdict.differences
    assert f"its memo anchors root {ROOT.hex()}, the batch root" in verdict.facts


async def test_anchor_of_another_root_does_not_verify(vm: LiteSvmChain) -> None:
    other = bytes(32)
    anchor = await vm.anchor(memo_for_root(other))
    verdict = await check_anchor(parse_proof(json.dumps(proof_json(anchor=anchor))), vm)
    assert verdict.differences == [f"its memo anchors root {other.hex()}, but batchRoot is {ROOT.hex()}"]


async def test_anchor_in_another_slot_than_the_proof_says_does_not_verify(vm: LiteSvmChain) -> None:
    anchor = await vm.anchor(memo_for_root(ROOT))
    claimed = replace(anchor, slot=anchor.slot + 7)
    verdict = await check_anchor(parse_proof(json.dumps(proof_json(anchor=claimed))), vm)
    assert verdict.differences == [f"anchorSlot is {anchor.slot + 7}, but the transaction is in slot {anchor.slot}"]


async def test_transaction_whose_memo_is_not_an_anchor_does_not_verify(vm: LiteSvmChain) -> None:
    anchor = await vm.anchor(b"hello")
    verdict = await check_anchor(parse_proof(json.dumps(proof_json(anchor=anchor))), vm)
    assert verdict.differences == ["its memo b'hello' is not a clearmesh anchor"]


async def test_signature_the_chain_does_not_know_does_not_verify(vm: LiteSvmChain) -> None:
    verdict = await check_anchor(parse_proof(json.dumps(proof_json())), vm)
    assert verdict.differences == [f"no confirmed, successful transaction {ANCHOR.signature} on the chain"]


def test_unreachable_rpc_url_cannot_be_checked(verify: Callable[..., Result]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = verify(proof_json(), "--rpc-url", f"http://127.0.0.1:{port}", "--timeout", "2")
    assert result.exit_code == 2
    assert "cannot check the anchor: Solana RPC http://127.0.0.1" in result.output


@given(st.integers(1, 40), st.data())
def test_parse_proof_reads_back_what_proof_message_wrote(size: int, data: st.DataObject) -> None:
    hashes = [leaf_hash(leaf_bytes(trade(sequence))) for sequence in range(size)]
    index = data.draw(st.integers(0, size - 1))
    leaf = leaf_bytes(trade(index))
    steps = merkle_proofs(hashes)[index]
    anchor = Anchor(signature=str(Signature.new_unique()), slot=data.draw(st.integers(0, 2**63 - 1)))
    message = proof_message("settlements/s", leaf, steps, merkle_root(hashes), anchor)
    proof = parse_proof(json_format.MessageToJson(message))
    assert (proof.leaf_data, proof.leaf_hash, list(proof.steps)) == (leaf, leaf_hash(leaf), steps)
    assert (proof.batch_root, proof.anchor_signature, proof.anchor_slot) == (merkle_root(hashes), anchor.signature, anchor.slot)


def test_parse_proof_refuses_a_non_object() -> None:
    with pytest.raises(ProofFormatError):
        parse_proof("[]")
