"""A sampled span made once, when it ends: the services' gRPC SERVER and CLIENT spans with
export on.

The SDK's live span (`tracer.start_span`, then `end`) costs ~20–40 µs of CPU on this machine
with a batch span processor: a lock, BoundedAttributes checking every attribute, the
processors' `on_start` and `on_end` (docs/observability.md, "What tracing costs"). A gRPC
call's span needs none of that while the call runs: its attributes are known at its start
and its end, nobody adds an event in between, and all that the call's work reads of it is its
context (the traceparent sent on, log lines' trace ids, children's parent). So while the call
runs its current span is a `DeferredSpan`, a NonRecordingSpan with the context the SDK would
have given the span (the tracer's own sampler and id generator: unheard.decide), and at the
end one immutable `ReadableSpan` (the SDK's public constructor) goes to the span processors'
`on_end`, as the SDK's span would have: ~6 µs in all.

Only with processors whose `on_start` does nothing and whose every one is known: those
telemetry.py made and added itself (`MeshTracerProvider.add_own_span_processor`, a batch or
simple processor). Once anyone adds another (a test's in-memory exporter, added after
configuration) the provider says so (`own_processors` is None) and callers go back to the
SDK's spans, which every processor hears in full.

A DeferredSpan is not recording (`is_recording()` is False, so instrumentation that asks
first adds nothing), yet its trace is sampled and recorded: `recorded(span)` says whether a
child started under a span is made (sql_spans.py asks it). What its owner sets through the
Span API (an attribute, the status, an exception) it keeps for the one span made at `end`, so
the owner ends it as it would end the SDK's.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from time import time_ns
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode


class MeshTracerProvider(TracerProvider):
    """The SDK's provider, knowing whether every span processor it has is one telemetry.py made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._own: tuple[SpanProcessor, ...] | None = ()

    def add_own_span_processor(self, processor: SpanProcessor) -> None:
        """Adds a processor whose `on_start` does nothing (the SDK's batch and simple ones):
        a DeferredSpan, which has no start to tell it of, loses it nothing."""
        super().add_span_processor(processor)
        if self._own is not None:
            self._own = (*self._own, processor)

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        """Anyone else's processor: from now on every span is the SDK's, heard in full."""
        super().add_span_processor(span_processor)
        self._own = None

    @property
    def own_processors(self) -> tuple[SpanProcessor, ...] | None:
        """The processors a finished span goes to when each is one telemetry.py added; None
        once another was added."""
        return self._own


def recorded(span: Span) -> bool:
    """Whether `span`'s trace is recorded here: an SDK span that records, or a DeferredSpan."""
    return span.is_recording() or isinstance(span, DeferredSpan)


class DeferredSpan(NonRecordingSpan):
    """A sampled span's context while it runs; `end` hands its one ReadableSpan to the
    processors, with what was set on it (attributes, status, exception events) meanwhile."""

    def __init__(self, context: SpanContext, name: str, kind: SpanKind, parent: SpanContext | None,
                 attributes: dict[str, Any], processors: tuple[SpanProcessor, ...], resource: Resource,
                 scope: InstrumentationScope, links: Sequence[Link] = ()) -> None:
        super().__init__(context)
        self.name, self.kind, self.parent = name, kind, parent
        self.attributes = attributes
        self.links = links
        self._status = Status(StatusCode.UNSET)
        self._events: list[Event] = []
        self._processors, self._resource, self._scope = processors, resource, scope
        self.start_time = time_ns()

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._status = status if isinstance(status, Status) else Status(status, description)

    def record_exception(self, exception: BaseException, attributes: Mapping[str, Any] | None = None,
                         timestamp: int | None = None, escaped: bool = False) -> None:
        self._events.append(exception_event(exception, attributes))

    def end(self, end_time: int | None = None) -> None:
        """The span, ended now, to every processor."""
        finished = ReadableSpan(self.name, self.get_span_context(), self.parent, self._resource,
                                self.attributes, self._events, self.links, self.kind, status=self._status,
                                start_time=self.start_time, end_time=end_time or time_ns(),
                                instrumentation_scope=self._scope)
        for processor in self._processors:
            processor.on_end(finished)


def exception_event(error: BaseException, attributes: Mapping[str, Any] | None = None) -> Event:
    """The event the SDK's `Span.record_exception` adds (the exception conventions' attributes),
    timestamped now."""
    module, name = type(error).__module__, type(error).__qualname__
    return Event("exception", {
        "exception.type": f"{module}.{name}" if module and module != "builtins" else name,
        "exception.message": str(error),
        "exception.stacktrace": "".join(traceback.format_exception(error)),
        "exception.escaped": "False",
        **(attributes or {})}, time_ns())
