"""AIP-155 request ids: a retried mutation returns the first answer; the same id with a
different request is refused (ALREADY_EXISTS `REQUEST_ID_REUSED`).

The request log is keyed by `request_id` and records the full gRPC method name
(`/clearmesh.wallet.v1.WalletService/Deposit`) beside a fingerprint of the request, so the
same id sent to another method, or with other fields, is a reuse and not a retry. `once` is
the one way a servicer runs a remembered mutation: recall, or do the work and remember its
answer, in one write transaction, so the answer is remembered exactly when the write it
describes commits. The rule for what a request_id may be is `validation.Violations.request_id`.

Not to be confused with the log correlation id (`x-request-id`, `logs.correlation_id_var`),
which names a call in the logs and promises nothing about effects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.clock import Clock
from services.runtime.errors import AlreadyExists
from services.runtime.transactions import Transactions, insert_at_commit

M = TypeVar("M", bound=Message)

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
        copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """What the request log holds for one request_id (read by `recall`, or by a store that reads
    it together with its own rows in one statement and hands it to `replay`)."""

    method: str
    fingerprint: str
    response: bytes


def replay(entry: Entry | None, method: str, request_id: str, request: Message) -> bytes | None:
    """The remembered response if `entry` (the log's entry for `request_id`) answers this very
    request, None if there is no entry, REQUEST_ID_REUSED if it answered another one."""
    if entry is None:
        return None
    if entry.method != method or entry.fingerprint != fingerprint(request):
        raise AlreadyExists("REQUEST_ID_REUSED",
                            "request_id was already used for a different request",
                            metadata={"requestId": request_id})
    return entry.response


async def recall(session: AsyncSession, method: str, request_id: str, request: Message) -> bytes | None:
    """The remembered response for this request id, or None if it is new."""
    row = (await session.execute(select(request_log.c.method, request_log.c.fingerprint, request_log.c.response)
                                 .where(request_log.c.request_id == request_id))).first()
    entry = None if row is None else Entry(row.method, row.fingerprint, bytes(row.response))
    return replay(entry, method, request_id, request)


async def remember(session: AsyncSession, method: str, request_id: str, request: Message,
                   response: Message, now: datetime) -> None:
    await session.execute(request_log.insert().values(_entry(method, request_id, request, response, now)))


def remember_at_commit(session: AsyncSession, method: str, request_id: str, request: Message,
                       response: Message, now: datetime) -> None:
    """`remember`, written at the end of the write transaction with the other entries
    remembered in it (one INSERT for a whole group commit): still exactly when the write it
    describes commits. Not for a unit that recalls the same request_id after it."""
    insert_at_commit(session, request_log, _entry(method, request_id, request, response, now))


def _entry(method: str, request_id: str, request: Message, response: Message, now: datetime) -> dict[str, Any]:
    return {"request_id": request_id, "method": method, "fingerprint": fingerprint(request),
            "response": response.SerializeToString(), "create_time": now}


def method_name(service: ServiceDescriptor, rpc: str) -> str:
    """The full gRPC method name the request log is keyed by: `/package.Service/Rpc`."""
    return f"/{service.full_name}/{service.methods_by_name[rpc].name}"


async def once(
    tx: Transactions, clock: Clock, method: str, request_id: str | None, request: Message,
    answer_type: type[M], work: Callable[[AsyncSession], Awaitable[M]],
) -> M:
    """`work` in one write transaction, its answer remembered under `request_id`; a retry gets
    the first answer back, byte for byte. Without a request_id (where the RPC makes it
    optional) the work simply runs once in its transaction."""
    if not request_id:
        return await tx.write(work)

    async def remembered_work(session: AsyncSession) -> M:
        remembered = await recall(session, method, request_id, request)
        if remembered is not None:
            return answer_type.FromString(remembered)
        answer = await work(session)
        await remember(session, method, request_id, request, answer, clock.now())
        return answer

    return await tx.write(remembered_work)
