"""Anchoring batch roots on Solana: the in-process VM by default, a real cluster in production.

`open_chain(settings)` picks one: LiteSVM (chain/litesvm.py) when SOLANA_RPC_URL is empty,
else the cluster at that URL (chain/rpc.py) at SOLANA_COMMITMENT, each anchor bounded by
SETTLEMENT_CONFIRMATION_TIMEOUT_SECS. Both sign with the platform keypair
(BLOCKCHAIN_KEYPAIR_PATH, or one generated once into the data directory).
"""

from __future__ import annotations

from services.runtime.settings import Settings
from services.settlement.chain.base import Anchor, Chain, ChainMemo
from services.settlement.chain.keypair import KeypairFileError, load_or_create_keypair
from services.settlement.chain.litesvm import LiteSvmChain
from services.settlement.chain.rpc import RpcChain

__all__ = ["Anchor", "Chain", "ChainMemo", "KeypairFileError", "LiteSvmChain", "RpcChain", "load_or_create_keypair", "open_chain"]


def open_chain(settings: Settings) -> Chain:
    """The chain the settings name. Raises KeypairFileError for an unusable keypair file and
    ValueError for an unknown SOLANA_COMMITMENT, so a misconfigured service fails at start."""
    payer = load_or_create_keypair(settings.blockchain_keypair_path, settings.data_dir)
    if not settings.solana_rpc_url:
        return LiteSvmChain(payer)
    return RpcChain(
        settings.solana_rpc_url, payer,
        commitment=settings.solana_commitment, timeout=settings.settlement_confirmation_timeout_secs,
    )
