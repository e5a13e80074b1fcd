"""Stand-in for the lead's runtime errors (same API); replaced when the runtime lands."""


class DomainError(Exception):
    def __init__(
        self,
        reason: str,
        message: str,
        *,
        metadata: dict[str, str] | None = None,
        violations: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.metadata = metadata or {}
        self.violations = violations or []


class InvalidArgument(DomainError):
    pass


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class FailedPrecondition(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class ResourceExhausted(DomainError):
    pass


class Aborted(DomainError):
    pass
