"""The flow over REST, through the edge: `POST /v1/orders?requestId=` with the Order as the
JSON body, `POST /v1/orders/{id}:cancel`. A minimal keep-alive HTTP/1.1 client (one
connection per call in flight, reused), so the figures measure the edge, not an HTTP library."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import grpc

from services.load.accounts import Trader
from services.load.drivers import CALL_TIMEOUT_SECS, Answer
from services.load.flow import Kind, Place

CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


def order_json(action: Place) -> dict[str, str]:
    body = {"market": action.market, "side": f"SIDE_{action.side.name}"}
    if action.kind is Kind.MARKET:
        body |= {"type": "ORDER_TYPE_MARKET", "timeInForce": "TIME_IN_FORCE_IOC"}
    else:
        tif = "TIME_IN_FORCE_IOC" if action.kind is Kind.IOC else "TIME_IN_FORCE_GTC"
        body |= {"type": "ORDER_TYPE_LIMIT", "timeInForce": tif, "price": action.price or ""}
    if action.quantity:
        body["quantity"] = action.quantity
    if action.max_notional:
        body["maxNotional"] = action.max_notional
    return body


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, path: str, token: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nhost: edge\r\nauthorization: Bearer {token}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        fields = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines if line)}
        payload = await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self.writer.close()
        return int(status_line.split(" ", 2)[1]), payload

    def close(self) -> None:
        self.writer.close()


class RestDriver:
    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._idle: list[_Connection] = []

    async def _call(self, path: str, token: str, body: dict[str, str]) -> Answer:
        connection = self._idle.pop() if self._idle else None
        try:
            if connection is None or connection.writer.is_closing():
                connection = _Connection(*await asyncio.wait_for(
                    asyncio.open_connection(self._host, self._port), CALL_TIMEOUT_SECS))
            status, payload = await asyncio.wait_for(
                connection.request(path, token, json.dumps(body).encode()), CALL_TIMEOUT_SECS)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            if connection is not None:
                connection.close()
            return Answer("UNAVAILABLE")  # the edge went away mid-call (or before it)
        except TimeoutError:
            if connection is not None:
                connection.close()
            return Answer("DEADLINE_EXCEEDED")
        if not connection.writer.is_closing():
            self._idle.append(connection)
        try:
            answer = json.loads(payload) if payload else {}
        except ValueError:  # not the edge's JSON (a proxy's page): the HTTP status is all there is
            answer = {}
        if status != 200:
            return Answer(CODE_NAMES.get(int(answer.get("code", 2)), "UNKNOWN"))
        return Answer("OK", answer.get("name", ""), answer.get("state", ""))

    async def place(self, trader: Trader, action: Place, request_id: str) -> Answer:
        return await self._call(f"/v1/orders?requestId={quote(request_id)}", trader.token, order_json(action))

    async def cancel(self, trader: Trader, order: str, request_id: str) -> Answer:
        return await self._call(f"/v1/{order}:cancel", trader.token, {"requestId": request_id})

    async def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
