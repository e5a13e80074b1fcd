"""AIP-155 request ids: a retried mutation returns the first answer; the same id with a
different request is refused. Used inside the caller's transaction, so the answer is
remembered exactly when the write it describes commits."""

from __future__ import annotations

import hashlib
from datetime import datetime

from google.protobuf.message import Message
from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.errors import AlreadyExists

metadata = MetaData()
request_log = Table(
    "request_log", metadata,
    Column("request_id", String(128), primary_key=True),
    Column("method", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)


def fingerprint(request: Message) -> str:
    """A digest of the request without its request_id, to tell a retry from a reuse."""
    copy = type(request)()
    copy.CopyFrom(request)
    if "request_id" in copy.DESCRIPTOR.fields_by_name:
        copy.ClearField("request_id")  # type: ignore[arg-type]
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


async def recall(session: AsyncSession, method: str, request_id: str, request: Message) -> bytes | None:
    """The remembered response for this request id, or None if it is new."""
    row = (await session.execute(select(request_log).where(
        request_log.c.request_id == request_id))).first()
    if row is None:
        return None
    if row.method != method or row.fingerprint != fingerprint(request):
        raise AlreadyExists("REQUEST_ID_REUSED",
                            "request_id was already used for a different request",
                            metadata={"requestId": request_id})
    return bytes(row.response)


async def remember(session: AsyncSession, method: str, request_id: str, request: Message,
                   response: Message, now: datetime) -> None:
    await session.execute(request_log.insert().values(
        request_id=request_id, method=method, fingerprint=fingerprint(request),
        response=response.SerializeToString(), create_time=now))
