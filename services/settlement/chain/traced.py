"""A CLIENT span around every call to the chain: the slowest thing Settlement waits for.

An anchor made by the anchorer's background loop starts a trace of its own (no request is
waiting for it); a memo read for a proof is a child of the RPC that asked. The span names
the operation (`solana anchor`, `solana read_memo`) and carries the chain (`solana.chain`:
"in-process Solana VM (LiteSVM)" or the RPC endpoint without credentials), and for an
anchor the transaction's signature and slot, which find it in an explorer.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.settlement.chain.base import Anchor, Chain

_tracer = trace.get_tracer("clearmesh.solana")


class TracedChain:
    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self.description = chain.description

    async def anchor(self, memo: bytes) -> Anchor:
        with _tracer.start_as_current_span("solana anchor", kind=SpanKind.CLIENT, record_exception=False,
                                           set_status_on_exception=False,
                                           attributes={"solana.chain": self.description,
                                                       "solana.memo_bytes": len(memo)}) as span:
            try:
                anchor = await self._chain.anchor(memo)
            except Exception as error:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.set_attribute("error.type", type(error).__qualname__)
                raise
            span.set_attributes({"solana.signature": anchor.signature, "solana.slot": anchor.slot})
            return anchor

    async def read_memo(self, signature: str) -> bytes | None:
        with _tracer.start_as_current_span("solana read_memo", kind=SpanKind.CLIENT, record_exception=False,
                                           set_status_on_exception=False,
                                           attributes={"solana.chain": self.description,
                                                       "solana.signature": signature}) as span:
            try:
                return await self._chain.read_memo(signature)
            except Exception as error:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.set_attribute("error.type", type(error).__qualname__)
                raise

    async def close(self) -> None:
        await self._chain.close()
