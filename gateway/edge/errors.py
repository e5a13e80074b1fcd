"""Refusals the edge itself answers with, shaped like every other error (google.rpc.Status).

They extend the core's ``TranscodeError`` so ``status.error_json`` renders them with
ErrorInfo (domain ``gateway.clearmesh``) exactly as it renders routing and body errors.
"""

from __future__ import annotations

from grpc import StatusCode

from gateway.transcode.errors import TranscodeError


class Unauthenticated(TranscodeError, http_status=401, grpc_code=StatusCode.UNAUTHENTICATED):
    """401: no bearer token, or one that does not verify (signature, exp, iss, aud, alg)."""


class RateLimited(TranscodeError, http_status=429, grpc_code=StatusCode.RESOURCE_EXHAUSTED):
    """429: the subject spent its budget; ``retry_after`` seconds until it may try again."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("RATE_LIMITED", f"Too many requests; retry after {retry_after} s",
                         metadata={"retryAfterSeconds": str(retry_after)})
        self.retry_after = retry_after


class PayloadTooLarge(TranscodeError, http_status=413, grpc_code=StatusCode.RESOURCE_EXHAUSTED):
    """413: a body larger than the largest gRPC message the services accept."""


class OriginNotAllowed(TranscodeError, http_status=403, grpc_code=StatusCode.PERMISSION_DENIED):
    """403 on a CORS preflight from an origin outside CORS_ALLOWED_ORIGINS."""


class Internal(TranscodeError, http_status=500, grpc_code=StatusCode.INTERNAL):
    """500: a fault of the edge itself; logged with its traceback, never shown to the caller."""
