"""What automatic screening concluded about an applicant."""

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ScreeningOutcome(StrEnum):
    CLEAR = "CLEAR"  # nothing found; an operator still reviews
    FLAGGED = "FLAGGED"  # findings an operator must look at
    REJECTED = "REJECTED"  # a hard rule failed; no review can approve


@dataclass(frozen=True, slots=True)
class ScreeningFinding:
    code: str  # KycReason.UNDERAGE / COUNTRY_DENIED / SANCTIONS_MATCH
    field: str  # the input that caused it, named as in the proto
    sanctions_entry_id: str | None = None
    match_score: float | None = None
    # The listed name that matched. Public list data, but near-identical to the applicant's
    # legal name by construction, so it is kept out of reprs and logs like the name itself.
    matched_name: str | None = dataclasses.field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    outcome: ScreeningOutcome
    findings: tuple[ScreeningFinding, ...]
    screen_time: datetime
