"""Anchoring on the real in-process Solana VM, the platform keypair file, and the RPC client
against endpoints that do not answer (no cluster is reachable from here)."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from services.runtime.errors import InvalidArgument, Unavailable
from services.runtime.settings import Settings
from services.settlement.chain import (
    KeypairFileError,
    LiteSvmChain,
    RpcChain,
    load_or_create_keypair,
    open_chain,
)
from services.settlement.chain.litesvm import AIRDROP_LAMPORTS
from services.settlement.chain.rpc import RpcReader, public_endpoint
from services.settlement.chain.transactions import (
    MEMO_PROGRAM_ID,
    fee_payer,
    memo_transaction,
    transaction_memo,
)
from services.settlement.domain.merkle import memo_for_root, root_from_memo
from services.settlement.domain.reasons import SettlementReason

ROOT = bytes(range(32))
MEMO = memo_for_root(ROOT)
# An RPC timeout short enough for a test, long enough for a loaded machine's connect().
RPC_TIMEOUT = 1.0


@pytest.fixture
def payer(tmp_path: Path) -> Keypair:
    return load_or_create_keypair(None, tmp_path)


@pytest.fixture
async def vm(payer: Keypair) -> AsyncIterator[LiteSvmChain]:
    chain = LiteSvmChain(payer)
    yield chain
    await chain.close()


# --- the in-process VM ---------------------------------------------------------------------

async def test_anchor_returns_a_base58_signature_and_the_slot(vm: LiteSvmChain) -> None:
    anchor = await vm.anchor(MEMO)
    assert Signature.from_string(anchor.signature) != Signature.default()
    assert anchor.slot > 0


async def test_memo_reads_back_byte_for_byte(vm: LiteSvmChain) -> None:
    anchor = await vm.anchor(MEMO)
    memo = await vm.read_memo(anchor.signature)
    assert memo == MEMO
    assert root_from_memo(memo) == ROOT


async def test_anchor_is_signed_and_paid_by_the_platform_keypair(vm: LiteSvmChain, payer: Keypair) -> None:
    anchor = await vm.anchor(MEMO)
    found = await vm.read(anchor.signature)
    assert found is not None
    assert found.signer == str(payer.pubkey())
    assert found.slot == anchor.slot


async def test_anchor_costs_the_payer_one_signature_fee(vm: LiteSvmChain, payer: Keypair) -> None:
    await vm.anchor(MEMO)
    # The VM executed it for real: the fee (5000 lamports per signature) left the payer.
    assert vm._svm.get_balance(payer.pubkey()) == AIRDROP_LAMPORTS - 5000


async def test_the_same_memo_anchors_twice_as_two_transactions_in_later_slots(vm: LiteSvmChain) -> None:
    first = await vm.anchor(MEMO)
    second = await vm.anchor(MEMO)
    assert first.signature != second.signature
    assert second.slot > first.slot
    assert await vm.read_memo(second.signature) == MEMO


async def test_memo_the_memo_program_refuses_is_chain_unavailable(vm: LiteSvmChain) -> None:
    # The Memo program requires UTF-8: a real execution, not a stand-in, refuses this.
    with pytest.raises(Unavailable) as caught:
        await vm.anchor(b"\xff\xfe")
    assert caught.value.reason == SettlementReason.CHAIN_UNAVAILABLE
    assert "InvalidInstructionData" in caught.value.message


async def test_unknown_signature_has_no_memo(vm: LiteSvmChain) -> None:
    assert await vm.read_memo(str(Signature.new_unique())) is None


async def test_malformed_signature_is_invalid_argument(vm: LiteSvmChain) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await vm.read_memo("not-a-signature")
    assert caught.value.reason == SettlementReason.INVALID_ANCHOR_SIGNATURE


# --- the transaction both chains send ------------------------------------------------------

def test_memo_transaction_survives_the_wire_with_its_memo_and_signer(payer: Keypair) -> None:
    sent = memo_transaction(payer, MEMO, Hash.new_unique())
    received = VersionedTransaction.from_bytes(bytes(sent))  # what getTransaction base64 decodes to
    assert transaction_memo(received) == MEMO
    assert fee_payer(received) == payer.pubkey()
    assert received.message.account_keys[received.message.instructions[0].program_id_index] == MEMO_PROGRAM_ID
    assert received.verify_with_results() == [True]


def test_transaction_without_a_memo_instruction_has_no_memo(payer: Keypair) -> None:
    instruction = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))
    transaction = VersionedTransaction(Message.new_with_blockhash([instruction], payer.pubkey(), Hash.default()), [payer])
    assert transaction_memo(transaction) is None


# --- the keypair file ----------------------------------------------------------------------

def test_generated_keypair_is_a_private_solana_cli_file(tmp_path: Path) -> None:
    keypair = load_or_create_keypair(None, tmp_path)
    path = tmp_path / "solana_keypair.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keypair.from_bytes(bytes(json.loads(path.read_text()))) == keypair


def test_generated_keypair_is_created_once_and_reused(tmp_path: Path) -> None:
    first = load_or_create_keypair(None, tmp_path)
    again = load_or_create_keypair(None, tmp_path)
    assert again.pubkey() == first.pubkey()


def test_keypair_path_is_loaded_and_nothing_is_generated(tmp_path: Path) -> None:
    keypair = Keypair()
    path = tmp_path / "platform.json"
    path.write_text(json.dumps(list(bytes(keypair))))
    assert load_or_create_keypair(path, tmp_path / "data").pubkey() == keypair.pubkey()
    assert not (tmp_path / "data" / "solana_keypair.json").exists()


@pytest.mark.parametrize(("content", "problem"), [
    ("not json", "not a Solana keypair file"),
    ("[1, 2, 3]", "64 bytes"),
    (json.dumps([256] * 64), "64 bytes"),
    (json.dumps({"secret": [0] * 64}), "64 bytes"),
])
def test_keypair_file_that_is_not_a_keypair_is_a_clear_error(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "platform.json"
    path.write_text(content)
    with pytest.raises(KeypairFileError, match=problem) as caught:
        load_or_create_keypair(path, tmp_path)
    assert str(path) in str(caught.value)


def test_keypair_whose_public_half_does_not_match_its_seed_is_refused(tmp_path: Path) -> None:
    secret = bytearray(bytes(Keypair()))
    secret[40] ^= 1
    path = tmp_path / "platform.json"
    path.write_text(json.dumps(list(secret)))
    with pytest.raises(KeypairFileError, match="not a valid Solana keypair"):
        load_or_create_keypair(path, tmp_path)


def test_missing_keypair_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeypairFileError, match="cannot read"):
        load_or_create_keypair(tmp_path / "absent.json", tmp_path)


# --- choosing the chain --------------------------------------------------------------------

async def test_without_an_rpc_url_the_chain_is_the_in_process_vm(settings: Settings) -> None:
    chain = open_chain(settings)
    try:
        assert isinstance(chain, LiteSvmChain)
        assert chain.description == "in-process Solana VM (LiteSVM)"
        assert (settings.data_dir / "solana_keypair.json").exists()
    finally:
        await chain.close()


async def test_with_an_rpc_url_the_chain_is_that_cluster_described_without_its_api_key(tmp_path: Path) -> None:
    chain = open_chain(Settings(CLEARMESH_DATA_DIR=tmp_path, SOLANA_RPC_URL="https://user:pw@rpc.example:8899/v1?api-key=s3cret"))
    try:
        assert isinstance(chain, RpcChain)
        assert chain.description == "https://rpc.example:8899/v1"
    finally:
        await chain.close()


def test_unknown_commitment_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SOLANA_COMMITMENT"):
        open_chain(Settings(CLEARMESH_DATA_DIR=tmp_path, SOLANA_RPC_URL="http://127.0.0.1:1", SOLANA_COMMITMENT="max"))


def test_bad_keypair_path_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "platform.json"
    path.write_text("[]")
    with pytest.raises(KeypairFileError):
        open_chain(Settings(CLEARMESH_DATA_DIR=tmp_path, BLOCKCHAIN_KEYPAIR_PATH=path))


def test_public_endpoint_keeps_scheme_host_port_and_path() -> None:
    assert public_endpoint("http://127.0.0.1:8899") == "http://127.0.0.1:8899"


# --- the RPC client against endpoints that do not answer ------------------------------------

def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def silent_endpoint() -> AsyncIterator[str]:
    """Accepts connections and never answers, like a hung RPC node."""
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()


async def test_anchor_to_an_endpoint_that_refuses_connections_is_chain_unavailable(payer: Keypair) -> None:
    chain = RpcChain(f"http://127.0.0.1:{closed_port()}", payer, timeout=RPC_TIMEOUT)
    try:
        with pytest.raises(Unavailable) as caught:
            await chain.anchor(MEMO)
        assert caught.value.reason == SettlementReason.CHAIN_UNAVAILABLE
    finally:
        await chain.close()


async def test_anchor_to_an_endpoint_that_never_answers_is_chain_unavailable_at_the_timeout(
    payer: Keypair, silent_endpoint: str,
) -> None:
    chain = RpcChain(silent_endpoint, payer, timeout=RPC_TIMEOUT)
    try:
        with pytest.raises(Unavailable) as caught:
            # The outer bound only keeps a broken timeout from hanging the suite.
            await asyncio.wait_for(chain.anchor(MEMO), timeout=RPC_TIMEOUT * 10)
        assert caught.value.reason == SettlementReason.CHAIN_UNAVAILABLE
        assert "no answer within 1 s" in caught.value.message
    finally:
        await chain.close()


async def test_reading_from_an_endpoint_that_never_answers_is_chain_unavailable(silent_endpoint: str) -> None:
    reader = RpcReader(silent_endpoint, timeout=RPC_TIMEOUT)
    try:
        with pytest.raises(Unavailable) as caught:
            await asyncio.wait_for(reader.read_memo(str(Signature.new_unique())), timeout=RPC_TIMEOUT * 10)
        assert caught.value.reason == SettlementReason.CHAIN_UNAVAILABLE
    finally:
        await reader.close()


async def test_reading_a_malformed_signature_asks_no_endpoint(silent_endpoint: str) -> None:
    reader = RpcReader(silent_endpoint, timeout=RPC_TIMEOUT)
    try:
        with pytest.raises(InvalidArgument):
            await reader.read_memo("0OIl")
    finally:
        await reader.close()
