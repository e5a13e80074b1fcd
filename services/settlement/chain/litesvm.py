"""The embedded default chain: a real Solana VM (LiteSVM) inside the settlement process.

Anchor transactions are signed and executed exactly as a cluster would execute them
(signature check, fee, the Memo program's own checks), but the VM and its history live in
this process and are gone when it stops: anchors made here prove nothing to an outsider.
Production sets SOLANA_RPC_URL and anchors to a real cluster (chain/rpc.py).

LiteSVM ships SPL Memo v1, not v3, so the anchors here run the v1 program; the instruction
is otherwise the one sent to a cluster (chain/transactions.py).
"""

from __future__ import annotations

from collections import OrderedDict

from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from services.runtime.errors import Unavailable
from services.settlement.chain.base import Anchor, ChainMemo
from services.settlement.chain.transactions import (
    MEMO_V1_PROGRAM_ID,
    fee_payer,
    memo_transaction,
    parse_signature,
    transaction_memo,
)
from services.settlement.domain.reasons import SettlementReason

LAMPORTS_PER_SOL = 1_000_000_000
# Enough for millions of anchors at 5000 lamports each; the VM's airdrop account holds plenty.
AIRDROP_LAMPORTS = 1_000 * LAMPORTS_PER_SOL
# How many anchors can be read back. The VM keeps only 32 transactions by default; this
# bounds the memory both it and `_sent` use (a few hundred bytes per anchor).
HISTORY = 65_536


class LiteSvmChain:
    description = "in-process Solana VM (LiteSVM)"

    def __init__(self, payer: Keypair) -> None:
        self._payer = payer
        self._svm = LiteSVM().with_transaction_history(HISTORY)
        # The VM's history holds each transaction's outcome but not its message; the memo
        # is read back from the transaction as sent, once the VM confirms it succeeded.
        self._sent: OrderedDict[str, tuple[VersionedTransaction, int]] = OrderedDict()
        funded = self._svm.airdrop(payer.pubkey(), AIRDROP_LAMPORTS)
        if isinstance(funded, FailedTransactionMetadata):
            raise Unavailable(SettlementReason.CHAIN_UNAVAILABLE, f"the in-process VM refused the airdrop: {funded.err()}")

    async def anchor(self, memo: bytes) -> Anchor:
        transaction = memo_transaction(self._payer, memo, self._svm.latest_blockhash(), MEMO_V1_PROGRAM_ID)
        outcome = self._svm.send_transaction(transaction)
        if isinstance(outcome, FailedTransactionMetadata):
            raise Unavailable(
                SettlementReason.CHAIN_UNAVAILABLE,
                f"the in-process VM rejected the anchor transaction: {outcome.err()}",
            )
        slot = self._svm.get_clock().slot
        signature = str(transaction.signatures[0])
        self._sent[signature] = (transaction, slot)
        if len(self._sent) > HISTORY:
            self._sent.popitem(last=False)
        # The VM neither advances slots nor rotates blockhashes by itself: do it per anchor,
        # so anchors land in increasing slots and the same memo can be anchored twice (with
        # one blockhash it would be the same transaction, refused as already processed).
        self._svm.warp_to_slot(slot + 1)
        self._svm.expire_blockhash()
        return Anchor(signature=signature, slot=slot)

    async def read_memo(self, signature: str) -> bytes | None:
        found = await self.read(signature)
        return found.memo if found is not None else None

    async def read(self, signature: str) -> ChainMemo | None:
        """The memo of an anchor this VM executed, with its slot and signer (as RpcReader.read)."""
        parsed = parse_signature(signature)
        sent = self._sent.get(str(parsed))
        # Only what the VM itself recorded as executed counts as confirmed.
        if sent is None or self._svm.get_transaction(parsed) is None:
            return None
        transaction, slot = sent
        memo = transaction_memo(transaction)
        return ChainMemo(memo=memo, slot=slot, signer=str(fee_payer(transaction))) if memo is not None else None

    async def close(self) -> None:
        self._sent.clear()
