"""What the Settlement service needs from a chain: write a memo, read it back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Anchor:
    signature: str  # base58 transaction signature
    slot: int


@dataclass(frozen=True, slots=True)
class ChainMemo:
    """A confirmed, successful transaction's memo, with where it landed and who signed it."""

    memo: bytes
    slot: int
    signer: str  # the fee payer (the transaction's first signer), base58


class Chain(Protocol):
    # For logs and the operator: which chain this is ("in-process Solana VM (LiteSVM)", or
    # the RPC endpoint without its query string, where providers put API keys).
    description: str

    async def anchor(self, memo: bytes) -> Anchor:
        """Write `memo` in a Memo transaction signed by the platform keypair; return once confirmed.

        Raises `Unavailable` (CHAIN_UNAVAILABLE) when the chain cannot be reached or refuses
        the transaction, `DeadlineExceeded` (ANCHOR_NOT_CONFIRMED) when it was sent but not
        confirmed within the timeout.
        """
        ...

    async def read_memo(self, signature: str) -> bytes | None:
        """The memo of a confirmed, successful transaction; None when there is no such transaction."""
        ...

    async def close(self) -> None: ...
