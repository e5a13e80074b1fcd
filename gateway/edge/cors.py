"""CORS from CORS_ALLOWED_ORIGINS, computed once per request inside the app (no extra layer).

Bearer tokens travel in a header, never in cookies, so credentials are not allowed; ``*``
in the list admits every origin. Preflights are answered here and never reach a service.
"""

from __future__ import annotations

from collections.abc import Iterable

ALLOWED_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSED_HEADERS = b"x-request-id, retry-after, www-authenticate, server-timing"
ALLOWED_HEADERS = b"authorization, content-type, accept, x-request-id, traceparent, tracestate"
MAX_AGE = b"600"

Header = tuple[bytes, bytes]


class CorsPolicy:
    def __init__(self, origins: Iterable[str]) -> None:
        listed = {origin.rstrip("/") for origin in origins}
        self._any = "*" in listed
        self._origins = frozenset(origin.encode("latin-1") for origin in listed - {"*"})

    def allows(self, origin: bytes) -> bool:
        return self._any or origin in self._origins

    def response_headers(self, origin: bytes | None) -> list[Header]:
        """Headers for an actual (non-preflight) request from ``origin``."""
        if origin is None or not self.allows(origin):
            return []
        return [(b"access-control-allow-origin", origin), (b"vary", b"Origin"),
                (b"access-control-expose-headers", EXPOSED_HEADERS)]

    def preflight_headers(self, origin: bytes) -> list[Header]:
        return [(b"access-control-allow-origin", origin), (b"vary", b"Origin"),
                (b"access-control-allow-methods", ALLOWED_METHODS),
                (b"access-control-allow-headers", ALLOWED_HEADERS),
                (b"access-control-max-age", MAX_AGE)]
