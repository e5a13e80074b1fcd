"""A real Solana cluster through its JSON-RPC endpoint (SOLANA_RPC_URL).

`RpcReader` only reads (it needs no key: `clearmesh verify-proof --rpc-url` uses it);
`RpcChain` adds the platform keypair and writes anchors.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.keypair import Keypair
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from services.runtime.errors import DeadlineExceeded, Unavailable
from services.settlement.chain.base import Anchor, ChainMemo
from services.settlement.chain.transactions import (
    MEMO_PROGRAM_ID,
    fee_payer,
    memo_transaction,
    parse_signature,
    transaction_memo,
)
from services.settlement.domain.reasons import SettlementReason

# Between two signature-status polls: about one slot (400 ms).
POLL_INTERVAL_SECS = 0.4
_RANK = {Commitment.PROCESSED: 0, Commitment.CONFIRMED: 1, Commitment.FINALIZED: 2}
# Transport failures (connection refused, TLS, HTTP 5xx), error answers, malformed answers.
_RPC_ERRORS = (SolanaRpcException, RPCException, ValueError)


def public_endpoint(url: str) -> str:
    """The URL without credentials or query string (where RPC providers put API keys), for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_commitment(value: str) -> Commitment:
    try:
        return Commitment(value)
    except ValueError:
        raise ValueError(f"SOLANA_COMMITMENT must be one of {', '.join(c.value for c in Commitment)}; got {value!r}") from None


class RpcReader:
    """Reads anchor transactions from a cluster; every call finishes within `timeout` seconds."""

    def __init__(self, url: str, *, commitment: str = "confirmed", timeout: float = 30.0) -> None:
        self.commitment = parse_commitment(commitment)
        self.timeout = timeout
        self.description = public_endpoint(url)
        self.client = AsyncClient(url, commitment=self.commitment, timeout=timeout)

    async def read_memo(self, signature: str) -> bytes | None:
        found = await self.read(signature)
        return found.memo if found is not None else None

    async def read(self, signature: str) -> ChainMemo | None:
        """The memo of the transaction `signature` names, if it is confirmed and succeeded."""
        parsed = parse_signature(signature)
        # getTransaction serves "confirmed" and "finalized" only; processed data is not kept.
        commitment = Commitment.FINALIZED if self.commitment is Commitment.FINALIZED else Commitment.CONFIRMED
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self.client.get_transaction(
                    parsed, encoding="base64", commitment=commitment, max_supported_transaction_version=0,
                )
        except TimeoutError:
            raise self._unavailable(f"no answer within {self.timeout:g} s") from None
        except _RPC_ERRORS as exc:
            raise self._unavailable(str(exc)) from exc
        found = answer.value
        if found is None or found.transaction.meta is None or found.transaction.meta.err is not None:
            return None
        transaction = found.transaction.transaction
        # Asked for base64, the answer decodes to the transaction itself (not a JSON view).
        if not isinstance(transaction, VersionedTransaction) or (memo := transaction_memo(transaction)) is None:
            return None
        return ChainMemo(memo=memo, slot=found.slot, signer=str(fee_payer(transaction)))

    async def close(self) -> None:
        await self.client.close()

    def _unavailable(self, why: str) -> Unavailable:
        return Unavailable(
            SettlementReason.CHAIN_UNAVAILABLE, f"Solana RPC {self.description}: {why}",
            metadata={"endpoint": self.description},
        )


class RpcChain(RpcReader):
    """Anchors memos on the cluster at `url`, paid for and signed by `payer`."""

    def __init__(self, url: str, payer: Keypair, *, commitment: str = "confirmed", timeout: float = 30.0) -> None:
        super().__init__(url, commitment=commitment, timeout=timeout)
        self._payer = payer

    async def anchor(self, memo: bytes) -> Anchor:
        """Send the memo transaction and wait for `commitment`; the whole call takes at most `timeout`."""
        sent: Signature | None = None
        try:
            async with asyncio.timeout(self.timeout):
                latest = await self.client.get_latest_blockhash(self.commitment)
                transaction = memo_transaction(self._payer, memo, latest.value.blockhash, MEMO_PROGRAM_ID)
                # From here on the transaction may reach the cluster, even if no answer
                # comes back: its signature is what the caller needs to look for it.
                sent = transaction.signatures[0]
                # Preflight (simulation) at our commitment catches a refused transaction now,
                # as an error answer, rather than as a signature that never confirms.
                await self.client.send_raw_transaction(
                    bytes(transaction), TxOpts(skip_confirmation=True, preflight_commitment=self.commitment),
                )
                slot = await self._confirmed_slot(sent)
        except TimeoutError:
            if sent is None:
                raise self._unavailable(f"no answer within {self.timeout:g} s") from None
            # Possibly sent, not seen confirmed: it may still land until its blockhash expires.
            raise DeadlineExceeded(
                SettlementReason.ANCHOR_NOT_CONFIRMED,
                f"anchor transaction {sent} not {self.commitment.value} within {self.timeout:g} s",
                metadata={"signature": str(sent), "endpoint": self.description},
            ) from None
        except _RPC_ERRORS as exc:
            raise self._unavailable(str(exc)) from exc
        return Anchor(signature=str(sent), slot=slot)

    async def _confirmed_slot(self, signature: Signature) -> int:
        wanted = _RANK[self.commitment]
        while True:
            [status] = (await self.client.get_signature_statuses([signature])).value
            if status is not None and status.err is not None:
                raise self._unavailable(f"the cluster rejected anchor transaction {signature}: {status.err}")
            if (
                status is not None
                and status.confirmation_status is not None
                and int(status.confirmation_status) >= wanted
            ):
                return status.slot
            await asyncio.sleep(POLL_INTERVAL_SECS)
