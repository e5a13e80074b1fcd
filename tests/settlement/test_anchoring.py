"""Anchoring on the in-process Solana VM: a settlement's proof verifies against the root its
batch anchored; a chain that is down leaves settlements POSTED (the ledger settles anyway)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb
from services.runtime.errors import Unavailable
from services.runtime.settings import Settings
from services.settlement.chain import Anchor, Chain, open_chain
from services.settlement.domain.merkle import memo_for_root
from services.settlement.proofs import check_offline, parse_proof
from services.settlement.service import settlement_spec

ANCHORED = settlement_pb2.SETTLEMENT_STATE_ANCHORED
POSTED = settlement_pb2.SETTLEMENT_STATE_POSTED


class DownChain:
    """A cluster that cannot be reached."""

    description = "a chain that is down"

    async def anchor(self, memo: bytes) -> Anchor:
        raise Unavailable("CHAIN_UNAVAILABLE", "the cluster cannot be reached")

    async def read_memo(self, signature: str) -> bytes | None:
        return None

    async def close(self) -> None:
        pass


async def test_a_party_s_proof_verifies_against_the_anchored_root(mesh: Any) -> None:
    await mesh.fund("alice", "1000", "USDC")
    await mesh.fund("bob", "1", "BTC")
    chains: list[Chain] = []

    def chain_for(settings: Settings) -> Chain:
        chains.append(open_chain(settings))
        return chains[-1]

    async with mesh.running_settlement(settlement_spec(chain_for)):
        trades = [name for _ in range(3) for name in await mesh.trade("alice", "bob", "10.00", "0.1")]
        anchored = [await mesh.reaches(trade, ANCHORED) for trade in trades]
        proof = await mesh.stub.GetSettlementProof(pb.GetSettlementProofRequest(name=anchored[1].name),
                                                   metadata=mesh.trader("alice"))
        memo = await chains[0].read_memo(proof.anchor_signature)

    parsed = parse_proof(json_format.MessageToJson(proof))
    assert check_offline(parsed).verifies
    assert parsed.trade is not None and parsed.trade.trade == trades[1]
    assert (proof.batch_root, proof.anchor_signature, proof.anchor_slot) == (
        anchored[1].batch_root, anchored[1].anchor_signature, anchored[1].anchor_slot)
    assert memo == memo_for_root(bytes.fromhex(proof.batch_root))


async def test_a_tampered_leaf_does_not_verify(settled: Any) -> None:
    [trade] = await settled.trade("alice", "bob", "10.00", "0.1")
    settlement = await settled.reaches(trade, ANCHORED)
    proof = await settled.stub.GetSettlementProof(pb.GetSettlementProofRequest(name=settlement.name),
                                                  metadata=settled.operator)

    proof.leaf = proof.leaf.replace('"price":"10.00"', '"price":"9.00"')

    assert not check_offline(parse_proof(json_format.MessageToJson(proof))).verifies


async def test_with_the_chain_down_settlements_stay_posted_and_have_no_proof(mesh: Any) -> None:
    await mesh.fund("alice", "1000", "USDC")
    await mesh.fund("bob", "1", "BTC")
    async with mesh.running_settlement(settlement_spec(lambda settings: DownChain())):
        [trade] = await mesh.trade("alice", "bob", "100.00", "0.1")
        posted = await mesh.reaches(trade, POSTED)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await mesh.stub.GetSettlementProof(pb.GetSettlementProofRequest(name=posted.name),
                                               metadata=mesh.operator)

    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert mesh.reason(refused.value) == "SETTLEMENT_NOT_ANCHORED"
    assert await mesh.balances("system/fees") == {"USDC": "0.020000"}


async def test_posted_settlements_are_anchored_once_the_chain_is_back(mesh: Any) -> None:
    await mesh.fund("alice", "1000", "USDC")
    await mesh.fund("bob", "1", "BTC")
    async with mesh.running_settlement(settlement_spec(lambda settings: DownChain())):
        [trade] = await mesh.trade("alice", "bob", "100.00", "0.1")
        await mesh.reaches(trade, POSTED)

    async with mesh.running_settlement():
        assert (await mesh.reaches(trade, ANCHORED)).anchor_signature
