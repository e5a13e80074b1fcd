"""Automatic screening: age, country deny list, sanctions list. Runs once an identity document
is on file; its result decides whether an operator may review the applicant at all."""

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.kyc.domain.reasons import KycReason
from services.kyc.domain.config_errors import invalid_config
from services.kyc.domain.model import IDENTITY_DOCUMENT_TYPES, ApplicantProfile, Document
from services.kyc.domain.sanctions import DEFAULT_MATCH_THRESHOLD, SanctionsList
from services.kyc.domain.screening_result import ScreeningFinding, ScreeningOutcome, ScreeningResult

DEFAULT_DENIED_COUNTRIES = frozenset({"KP", "IR", "SY", "CU"})
ADULT_AGE = 18


class SanctionsMatchAction(StrEnum):
    FLAG = "FLAG"  # an operator decides (default: a close match is often a namesake)
    REJECT = "REJECT"  # the policy allows no review of a possible match


class ScreeningPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_age: int = Field(default=ADULT_AGE, ge=0, le=150)
    denied_countries: frozenset[str] = DEFAULT_DENIED_COUNTRIES
    name_match_threshold: float = Field(default=DEFAULT_MATCH_THRESHOLD, gt=0, le=100)
    sanctions_match_action: SanctionsMatchAction = SanctionsMatchAction.FLAG

    @field_validator("denied_countries", mode="before")
    @classmethod
    def _known_countries(cls, codes: Iterable[str]) -> frozenset[str]:
        normalized = frozenset(str(code).strip().upper() for code in codes)
        unknown = sorted(c for c in normalized if pycountry.countries.get(alpha_2=c) is None)
        if unknown:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 codes: {', '.join(unknown)}")
        return normalized

    @classmethod
    def parse(cls, source: str | dict[str, object]) -> "ScreeningPolicy":
        """From a JSON string or a mapping (e.g. a settings value); raises InvalidArgument."""
        try:
            if isinstance(source, str):
                return cls.model_validate_json(source)
            return cls.model_validate(source)
        except ValidationError as exc:
            raise invalid_config("screening policy", exc) from exc


def age_on(date_of_birth: date, today: date) -> int:
    """Completed years. Someone born on 29 February turns a year older on 1 March in common years."""
    had_birthday = (today.month, today.day) >= (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - (0 if had_birthday else 1)


def screen(
    profile: ApplicantProfile,
    documents: Iterable[Document],
    sanctions: SanctionsList,
    policy: ScreeningPolicy,
    today: date,
    now: datetime,
) -> ScreeningResult:
    hard_findings: list[ScreeningFinding] = []
    if age_on(profile.date_of_birth, today) < policy.min_age:
        hard_findings.append(ScreeningFinding(KycReason.UNDERAGE, "date_of_birth"))
    if profile.country in policy.denied_countries:
        hard_findings.append(ScreeningFinding(KycReason.COUNTRY_DENIED, "country"))
    # A passport from a denied country counts too: residence alone is easy to misstate.
    if any(
        doc.type in IDENTITY_DOCUMENT_TYPES and doc.issuing_country in policy.denied_countries
        for doc in documents
    ):
        hard_findings.append(ScreeningFinding(KycReason.COUNTRY_DENIED, "document.issuing_country"))

    sanctions_findings: list[ScreeningFinding] = []
    match = sanctions.best_match(profile.legal_name, policy.name_match_threshold)
    if match is not None:
        sanctions_findings.append(
            ScreeningFinding(
                KycReason.SANCTIONS_MATCH,
                "legal_name",
                sanctions_entry_id=match.entry_id,
                match_score=match.score,
                matched_name=match.matched_name,
            )
        )

    rejects_on_match = policy.sanctions_match_action is SanctionsMatchAction.REJECT
    if hard_findings or (sanctions_findings and rejects_on_match):
        outcome = ScreeningOutcome.REJECTED
    elif sanctions_findings:
        outcome = ScreeningOutcome.FLAGGED
    else:
        outcome = ScreeningOutcome.CLEAR
    return ScreeningResult(outcome, (*hard_findings, *sanctions_findings), now)
