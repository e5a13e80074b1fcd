"""Builders shared by the KYC domain tests: an applicant in each state, reached through the
real transitions so a test never constructs a state the state machine could not produce.

Tests reach everything through the `journey` fixture (importlib mode cannot import conftest)."""

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.kyc.data import load_sanctions_list
from services.kyc.domain import (
    Applicant,
    ApplicantInput,
    DocumentInput,
    DocumentNumberHasher,
    DocumentType,
    ReviewDecision,
    ReviewInput,
    SanctionsList,
    ScreeningPolicy,
    Tier,
    create_applicant,
    review_applicant,
    submit_document,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
OWNER = "accounts/alice"
OPERATOR = "operators/olga"
HASH_KEY = b"k" * 32
SHA256 = "ab" * 32

ADULT_INPUT = ApplicantInput(
    legal_name="Alice Quartermaine-Example",
    date_of_birth="1990-04-17",
    country="DE",
    address="Musterstrasse 12, 10115 Berlin",
)


def passport(**changes: Any) -> DocumentInput:
    base = DocumentInput(type=DocumentType.PASSPORT, issuing_country="DE", number="C01X00T47", sha256=SHA256, size_bytes=123_456)
    return replace(base, **changes)


def proof_of_address(**changes: Any) -> DocumentInput:
    base = DocumentInput(type=DocumentType.PROOF_OF_ADDRESS, issuing_country="DE", number="", sha256=SHA256, size_bytes=2_048)
    return replace(base, **changes)


def birthday_years_before(today: date, years: int) -> str:
    return today.replace(year=today.year - years).isoformat()


@pytest.fixture(scope="session")
def sample_sanctions() -> SanctionsList:
    return load_sanctions_list()


@pytest.fixture(scope="session")
def hasher() -> DocumentNumberHasher:
    return DocumentNumberHasher(HASH_KEY)


@pytest.fixture
def policy() -> ScreeningPolicy:
    return ScreeningPolicy()


class Journey:
    """Drives one applicant through the transitions with the test's sanctions list and policy."""

    now = NOW
    owner = OWNER
    operator = OPERATOR
    adult_input = ADULT_INPUT
    sha256 = SHA256
    passport = staticmethod(passport)
    proof_of_address = staticmethod(proof_of_address)
    birthday_years_before = staticmethod(birthday_years_before)

    def __init__(self, sanctions: SanctionsList, hasher: DocumentNumberHasher, policy: ScreeningPolicy) -> None:
        self.sanctions = sanctions
        self.hasher = hasher
        self.policy = policy

    def create(self, request: ApplicantInput = ADULT_INPUT, now: datetime = NOW) -> Applicant:
        return create_applicant(applicant_id="applicants/a1", account_id=OWNER, request=request, existing=None, actor=OWNER, now=now).applicant

    def submit(self, applicant: Applicant, document: DocumentInput | None = None, document_id: str = "d1"):
        return submit_document(
            applicant,
            caller_account_id=OWNER,
            document_id=document_id,
            request=document or passport(),
            hasher=self.hasher,
            sanctions=self.sanctions,
            policy=self.policy,
            now=NOW,
        )

    def in_review(self, request: ApplicantInput = ADULT_INPUT) -> Applicant:
        return self.submit(self.create(request)).applicant

    def approved(self, tier: Tier = Tier.TIER_1) -> Applicant:
        return review_applicant(self.in_review(), request=ReviewInput(ReviewDecision.APPROVE, tier), actor=OPERATOR, now=NOW).applicant


@pytest.fixture
def journey(sample_sanctions: SanctionsList, hasher: DocumentNumberHasher, policy: ScreeningPolicy) -> Journey:
    return Journey(sample_sanctions, hasher, policy)
