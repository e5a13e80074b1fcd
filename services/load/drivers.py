"""What the runner needs of a transport: place an order, cancel one, close. The answer is the
same whichever way the call went, so the runner and the report never know the transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.load.accounts import Trader
from services.load.flow import Place

# A call that has not answered by then counts as failed (DEADLINE_EXCEEDED); its outcome is
# unknown to the client, which is what a crash of a service looks like from outside.
CALL_TIMEOUT_SECS = 10.0


@dataclass(frozen=True)
class Answer:
    code: str  # "OK", or the gRPC status code's name (UNAVAILABLE, FAILED_PRECONDITION, ...)
    order: str = ""  # `orders/{id}` when the service answered one
    state: str = ""  # ORDER_STATE_* of that order as answered

    @property
    def ok(self) -> bool:
        return self.code == "OK"


class Driver(Protocol):
    async def place(self, trader: Trader, action: Place, request_id: str) -> Answer: ...

    async def cancel(self, trader: Trader, order: str, request_id: str) -> Answer: ...

    async def close(self) -> None: ...
