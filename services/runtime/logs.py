"""JSON log lines carrying the correlation id and trace ids, the same in every service."""

from __future__ import annotations

import contextvars
import json
import logging
import sys

from opentelemetry import trace

# The log correlation id: the `x-request-id` header Istio and the edge put on every hop. It
# names a call in the logs; it is not the AIP-155 `request_id` idempotency key of a mutation.
correlation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")

# One encoder for every line: json.dumps(default=...) builds a new one per call.
_encode = json.JSONEncoder(default=str).encode


class JsonFormatter(logging.Formatter):
    """One JSON object a line. Every call a service serves writes one (its access line), so
    what a line costs is paid per call: the time is formatted once a second, not per line."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._time = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # a handler formats one record at a time, under its lock
            self._second, self._time = second, self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        line: dict[str, object] = {
            "time": self._time,
            "severity": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if correlation_id := correlation_id_var.get():
            line["correlation_id"] = correlation_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _encode(line)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # No line prints the caller's file and line, thread or process: the logging HOWTO's
    # "Optimization" switches spare every record looking them up (a tenth of an access line).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.getLogger("clearmesh").info("logging configured", extra={"fields": {"service": service}})
