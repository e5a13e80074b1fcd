"""The simulated network: gRPC calls between the nodes become messages the simulator delivers.

A node's `runtime.channel(peer)` is a `SimChannel`. The generated stubs call its
`unary_unary`/`unary_stream`, exactly as on a real channel, so the services' own clients
(Order's Peers, Settlement's ledger and intake, the reconciler) run unchanged. A unary call
is a request message; when the simulator delivers it, the callee's servicer method runs as
a task of the callee node, authorized by the method's access rule from the contract, and its
answer (or its domain error as a rich status, as the interceptor sends it) is a reply
message. Either message can be delayed (another is delivered first), duplicated (the callee
runs the request twice; the caller takes the first answer) or dropped (the caller's deadline
passes: DEADLINE_EXCEEDED, and its own retry logic takes over). A server-streaming call is a
connection: items arrive in order (TCP), and a fault breaks the connection (UNAVAILABLE), as a
restart or a network failure does; the follower then reconnects from its stored cursor.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from grpc_status import rpc_status

from services.runtime.auth import AccessRule, Principal, authorize, bind_principal
from services.runtime.errors import DomainError
from services.runtime.status import grpc_code, internal_status, to_status_proto

if TYPE_CHECKING:
    from tests.testkit.simulation.world import Node, World

SIM_TOKEN = "Bearer sim|"  # authorization metadata naming a simulated principal


def token_of(principal: Principal) -> str:
    return f"{SIM_TOKEN}{principal.account or ''}|{','.join(sorted(principal.roles))}"


def principal_of(metadata: Any, default: Principal) -> Principal:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value.startswith(SIM_TOKEN):
            account, roles = value.removeprefix(SIM_TOKEN).split("|")
            return Principal(account=account or None, roles=frozenset(filter(None, roles.split(","))))
    return default


def rpc_error(code: grpc.StatusCode, message: str, status: Any = None) -> grpc.aio.AioRpcError:
    trailing = grpc.aio.Metadata()
    if status is not None:
        trailing = grpc.aio.Metadata((rpc_status.GRPC_DETAILS_METADATA_KEY, status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=message)


def domain_rpc_error(error: DomainError) -> grpc.aio.AioRpcError:
    return rpc_error(grpc_code(error), error.message, to_status_proto(error))


@dataclass(eq=False)
class Call:
    """One unary call or one stream, from a caller's incarnation to a callee service."""

    number: int
    caller: Node
    callee: str
    path: str
    request: bytes
    principal: Principal
    metadata: tuple[tuple[str, str], ...]
    future: asyncio.Future[Any] | None = None  # the caller's wait (unary)
    deadline: float | None = None
    stream: Stream | None = None
    handlers: list[asyncio.Task[Any]] = field(default_factory=list)
    handled_by: list[Node] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.path.rsplit("/", 1)[1]

    def waiting(self) -> bool:
        return self.future is not None and not self.future.done() and self.caller.alive


@dataclass(eq=False)
class Message:
    number: int
    kind: str  # "request", "reply", "open"
    call: Call
    answer: bytes | None = None
    error: grpc.aio.AioRpcError | None = None

    def describe(self) -> str:
        where = f"{self.call.caller.name}->{self.call.callee}" if self.kind != "reply" else \
            f"{self.call.callee}->{self.call.caller.name}"
        outcome = "" if self.kind != "reply" else (" ok" if self.error is None else f" {self.error.code().name}")
        return f"{self.kind} #{self.call.number} {where} {self.call.method}{outcome}"


_END = object()


@dataclass(eq=False)
class Stream:
    """A server stream: the producer (the callee's servicer generator) fills `sent`; the
    simulator moves items one by one to `received`, where the caller's iterator takes them."""

    call: Call
    sent: deque[Any] = field(default_factory=deque)  # bytes, an AioRpcError, or _END
    received: deque[Any] = field(default_factory=deque)
    waiter: asyncio.Future[None] | None = None
    producer: asyncio.Task[Any] | None = None
    closed: bool = False

    def push(self, item: Any) -> None:
        self.received.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def close(self, error: grpc.aio.AioRpcError | None) -> None:
        """The connection ends: the caller sees `error` (after what it already received)."""
        if self.closed:
            return
        self.closed = True
        self.sent.clear()
        if self.producer is not None:
            self.producer.cancel()
        self.push(error if error is not None else _END)


class Network:
    def __init__(self, world: World) -> None:
        self.world = world
        self.messages: list[Message] = []
        self.streams: list[Stream] = []
        self._numbers = itertools.count(1)
        self.rules: dict[str, AccessRule] = {}
        self.descriptors: dict[str, ServiceDescriptor] = {}

    # ------------------------------------------------------------ sending

    def send(self, kind: str, call: Call, answer: bytes | None = None,
             error: grpc.aio.AioRpcError | None = None) -> Message:
        message = Message(next(self._numbers), kind, call, answer, error)
        self.messages.append(message)
        return message

    def new_call(self, caller: Node, callee: str, path: str, request: bytes, principal: Principal,
                 metadata: tuple[tuple[str, str], ...]) -> Call:
        return Call(next(self._numbers), caller, callee, path, request, principal, metadata)

    # ----------------------------------------------------------- delivery

    def deliverable(self) -> list[Any]:
        """What can happen next: a message in flight, or the next item of an open stream."""
        return [*self.messages, *(s for s in self.streams if s.sent and not s.closed)]

    def deliver(self, what: Message | Stream) -> str:
        if isinstance(what, Stream):
            item = what.sent.popleft()
            if isinstance(item, grpc.aio.AioRpcError) or item is _END:
                self.streams.remove(what)
                what.close(item if isinstance(item, grpc.aio.AioRpcError) else None)
            else:
                what.push(item)
            return f"stream item #{what.call.number} {what.call.callee}->{what.call.caller.name} {what.call.method}"
        self.messages.remove(what)
        call = what.call
        if what.kind == "reply":
            if call.waiting():
                assert call.future is not None
                if what.error is not None:
                    call.future.set_exception(what.error)
                else:
                    call.future.set_result(what.answer)
            return what.describe()
        callee = self.world.nodes.get(call.callee)
        if callee is None or not callee.alive:
            # Nobody listens on the port: the caller's channel fails at once.
            if what.kind == "open":
                self._stream_of(call).close(rpc_error(grpc.StatusCode.UNAVAILABLE, f"{call.callee} is down"))
            else:
                self.send("reply", call, error=rpc_error(grpc.StatusCode.UNAVAILABLE, f"{call.callee} is down"))
            return what.describe() + " (callee down)"
        if what.kind == "open":
            stream = self._stream_of(call)
            if not stream.closed:
                stream.producer = callee.start(self._produce(callee, stream), f"stream {call.method}")
                call.handled_by.append(callee)
        else:
            call.handlers.append(callee.start(self._handle(callee, what), f"rpc {call.method}"))
            call.handled_by.append(callee)
        return what.describe()

    @staticmethod
    def _stream_of(call: Call) -> Stream:
        assert call.stream is not None
        return call.stream

    # ------------------------------------------------------------ faults

    def drop(self, message: Message) -> str:
        """Lost: a request never arrives, a reply never comes back; the caller's deadline
        decides. A call without a deadline would wait forever: its channel fails instead."""
        self.messages.remove(message)
        if message.kind == "open":
            self._stream_of(message.call).close(rpc_error(grpc.StatusCode.UNAVAILABLE, "connection lost"))
        elif message.call.future is not None and message.call.deadline is None:
            self.send("reply", message.call, error=rpc_error(grpc.StatusCode.UNAVAILABLE, "connection lost"))
        return "drop " + message.describe()

    def duplicate(self, message: Message) -> str:
        self.send(message.kind, message.call, message.answer, message.error)
        return "duplicate " + message.describe()

    def break_stream(self, stream: Stream) -> str:
        self.streams.remove(stream)
        stream.close(rpc_error(grpc.StatusCode.UNAVAILABLE, "connection reset"))
        return f"break stream #{stream.call.number} {stream.call.callee}->{stream.call.caller.name}"

    def node_crashed(self, node: Node) -> None:
        """Its connections reset; callers of its unfinished handlers see UNAVAILABLE."""
        for stream in list(self.streams):
            if stream.call.caller is node or node in stream.call.handled_by:
                self.streams.remove(stream)
                stream.close(rpc_error(grpc.StatusCode.UNAVAILABLE, f"{node.name} crashed"))
        for message in list(self.messages):
            if message.kind == "open" and message.call.caller is node:
                self.messages.remove(message)
        for call in self.world.calls:
            if node in call.handled_by and call.waiting():
                self.send("reply", call, error=rpc_error(grpc.StatusCode.UNAVAILABLE, f"{node.name} crashed"))

    # ------------------------------------------------------------ callee side

    def _servicer(self, node: Node, call: Call) -> tuple[Any, Any]:
        descriptor = self.descriptors[call.callee]
        method = descriptor.methods_by_name[call.method]
        request = message_factory.GetMessageClass(method.input_type).FromString(call.request)
        authorize(call.path, call.principal, self.rules)
        bind_principal(call.principal)
        return getattr(node.servicer, call.method), request

    async def _handle(self, node: Node, message: Message) -> None:
        call = message.call
        try:
            method, request = self._servicer(node, call)
            answer = await method(request, _Context(call.metadata))
        except DomainError as error:
            self.send("reply", call, error=domain_rpc_error(error))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - a servicer that raises anything else is a bug
            self.world.fail(f"{call.callee}.{call.method} raised {error!r}", error)
            self.send("reply", call, error=rpc_error(grpc.StatusCode.INTERNAL, "internal", internal_status()))
        else:
            self.send("reply", call, answer=answer.SerializeToString())

    async def _produce(self, node: Node, stream: Stream) -> None:
        call = stream.call
        try:
            method, request = self._servicer(node, call)
            async for item in method(request, _Context(call.metadata)):
                stream.sent.append(item.SerializeToString())
            stream.sent.append(_END)
        except DomainError as error:
            stream.sent.append(domain_rpc_error(error))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001
            self.world.fail(f"{call.callee}.{call.method} stream raised {error!r}", error)
            stream.sent.append(rpc_error(grpc.StatusCode.INTERNAL, "internal", internal_status()))


class _Context:
    """What the servicers read from their gRPC context: the call's metadata."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


# ----------------------------------------------------------------- caller side

class SimChannel:
    """A channel from one node (or the workload's client) to one service."""

    def __init__(self, network: Network, caller: Node, callee: str, principal: Principal) -> None:
        self._network = network
        self._caller = caller
        self._callee = callee
        self._principal = principal

    def unary_unary(self, path: str, request_serializer: Callable[[Any], bytes],
                    response_deserializer: Callable[[bytes], Any], **_: Any) -> Callable[..., Any]:
        async def invoke(request: Any, *, timeout: float | None = None, metadata: Any = None, **__: Any) -> Any:
            network, loop = self._network, asyncio.get_running_loop()
            call = network.new_call(self._caller, self._callee, path, request_serializer(request),
                                    principal_of(metadata, self._principal), tuple(metadata or ()))
            call.future = loop.create_future()
            call.deadline = timeout
            network.world.calls.append(call)
            network.send("request", call)
            deadline = None
            if timeout is not None:
                deadline = loop.call_later(timeout, _expire, call)
            try:
                answer = await call.future
            finally:
                if deadline is not None:
                    deadline.cancel()
                network.world.calls.remove(call)
            return response_deserializer(answer)

        return invoke

    def unary_stream(self, path: str, request_serializer: Callable[[Any], bytes],
                     response_deserializer: Callable[[bytes], Any], **_: Any) -> Callable[..., Any]:
        def invoke(request: Any, *, metadata: Any = None, **__: Any) -> StreamCall:
            network = self._network
            call = network.new_call(self._caller, self._callee, path, request_serializer(request),
                                    principal_of(metadata, self._principal), tuple(metadata or ()))
            stream = call.stream = Stream(call)
            network.streams.append(stream)
            network.send("open", call)
            return StreamCall(network, stream, response_deserializer)

        return invoke

    async def close(self) -> None:
        return None


def _expire(call: Call) -> None:
    if call.future is not None and not call.future.done():
        call.future.set_exception(rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"))
        for handler in call.handlers:  # the server cancels the call's handler at its deadline
            handler.cancel()


class StreamCall:
    """The caller's end of a server stream: async-iterable, cancellable."""

    def __init__(self, network: Network, stream: Stream, deserialize: Callable[[bytes], Any]) -> None:
        self._network = network
        self._stream = stream
        self._deserialize = deserialize

    def __aiter__(self) -> StreamCall:
        return self

    async def __anext__(self) -> Any:
        stream = self._stream
        while not stream.received:
            stream.waiter = asyncio.get_running_loop().create_future()
            await stream.waiter
        item = stream.received.popleft()
        if item is _END:
            stream.received.appendleft(item)
            raise StopAsyncIteration
        if isinstance(item, grpc.aio.AioRpcError):
            stream.received.appendleft(item)
            raise item
        return self._deserialize(item)

    def cancel(self) -> bool:
        if self._stream in self._network.streams:
            self._network.streams.remove(self._stream)
        self._stream.close(None)
        return True

