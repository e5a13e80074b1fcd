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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
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
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("clearmesh").info("logging configured", extra={"fields": {"service": service}})
