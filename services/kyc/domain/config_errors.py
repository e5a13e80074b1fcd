"""Maps a pydantic ValidationError from a configuration parser onto the domain's InvalidArgument."""

from pydantic import ValidationError

from services.kyc.domain.reasons import KycReason
from services.runtime.errors import InvalidArgument


def invalid_config(what: str, error: ValidationError) -> InvalidArgument:
    violations = [(".".join(str(part) for part in item["loc"]) or what, item["msg"]) for item in error.errors()]
    return InvalidArgument(KycReason.INVALID_KYC_CONFIG, f"invalid {what} configuration", violations=violations)
