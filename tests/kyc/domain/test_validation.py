"""Bad input is refused with InvalidArgument naming each field as the proto does."""

from dataclasses import replace
from datetime import timedelta

import pytest

from services.kyc.domain import DocumentType, ReviewDecision, ReviewInput, create_applicant, review_applicant
from services.runtime.errors import InvalidArgument


def create(journey, **changes):
    request = replace(journey.adult_input, **changes)
    return create_applicant(applicant_id="applicants/a1", account_id=journey.owner, request=request, existing=None, actor=journey.owner, now=journey.now)


def violated_fields(raised) -> list[str]:
    return [field for field, _ in raised.value.violations]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"legal_name": ""}, "legal_name"),
        ({"legal_name": "   "}, "legal_name"),
        ({"legal_name": "12345"}, "legal_name"),
        ({"legal_name": "x" * 201}, "legal_name"),
        ({"legal_name": "Alice\x00Bob"}, "legal_name"),
        ({"date_of_birth": "17/04/1990"}, "date_of_birth"),
        ({"date_of_birth": "1990-02-30"}, "date_of_birth"),
        ({"date_of_birth": "1899-12-31"}, "date_of_birth"),
        ({"country": "XX"}, "country"),
        ({"country": "DEU"}, "country"),
        ({"country": ""}, "country"),
        ({"address": ""}, "address"),
    ],
)
def test_an_invalid_applicant_field_is_named(journey, changes, field):
    with pytest.raises(InvalidArgument) as raised:
        create(journey, **changes)
    assert violated_fields(raised) == [field]
    assert raised.value.reason == "INVALID_APPLICANT"


def test_a_date_of_birth_that_is_no_date_is_described_as_year_month_and_day(journey):
    with pytest.raises(InvalidArgument) as raised:
        create(journey, date_of_birth="17/04/1990")
    assert raised.value.violations == [("date_of_birth", "must be a calendar date: a year, a month and a day")]


def test_a_date_of_birth_in_the_future_is_invalid(journey):
    tomorrow = (journey.now + timedelta(days=1)).date()
    with pytest.raises(InvalidArgument) as raised:
        create(journey, date_of_birth=tomorrow)
    assert violated_fields(raised) == ["date_of_birth"]


def test_every_invalid_field_is_reported_at_once(journey):
    with pytest.raises(InvalidArgument) as raised:
        create(journey, legal_name="", country="ZZ", address="")
    assert violated_fields(raised) == ["legal_name", "country", "address"]


def test_a_lowercase_country_code_is_accepted_and_stored_uppercase(journey):
    assert create(journey, country="fr").applicant.profile.country == "FR"


def test_the_legal_name_is_stored_with_whitespace_collapsed(journey):
    assert create(journey, legal_name="  Alice   Example ").applicant.profile.legal_name == "Alice Example"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": DocumentType.UNSPECIFIED}, "document.type"),
        ({"type": "SELFIE"}, "document.type"),
        ({"issuing_country": "QQ"}, "document.issuing_country"),
        ({"number": ""}, "document.number"),
        ({"number": "AB#12"}, "document.number"),
        ({"number": "A" * 65}, "document.number"),
        ({"sha256": "ab" * 31}, "document.sha256"),
        ({"sha256": "zz" * 32}, "document.sha256"),
        ({"size_bytes": -1}, "document.size_bytes"),
        ({"size_bytes": 0}, "document.size_bytes"),
    ],
)
def test_an_invalid_document_field_is_named(journey, changes, field):
    with pytest.raises(InvalidArgument) as raised:
        journey.submit(journey.create(), journey.passport(**changes))
    assert violated_fields(raised) == [field]
    assert raised.value.reason == "INVALID_DOCUMENT"


def test_proof_of_address_needs_no_number(journey):
    applicant = journey.submit(journey.create(), journey.proof_of_address(number="")).applicant
    assert applicant.documents[0].number_hash is None


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (ReviewInput(ReviewDecision.UNSPECIFIED), ["decision"]),
        (ReviewInput("MAYBE"), ["decision"]),
        (ReviewInput(ReviewDecision.APPROVE, tier=0), ["tier"]),
        (ReviewInput(ReviewDecision.APPROVE, tier=3), ["tier"]),
        (ReviewInput(ReviewDecision.REJECT, reason=""), ["reason"]),
        (ReviewInput(ReviewDecision.REJECT, tier=2, reason="no"), ["tier"]),
        (ReviewInput(ReviewDecision.REJECT, reason="x" * 1001), ["reason"]),
    ],
)
def test_an_invalid_review_field_is_named(journey, request_, fields):
    with pytest.raises(InvalidArgument) as raised:
        review_applicant(journey.in_review(), request=request_, actor=journey.operator, now=journey.now)
    assert violated_fields(raised) == fields
    assert raised.value.reason == "INVALID_REVIEW"


def test_violation_descriptions_never_echo_the_rejected_value(journey):
    secret_name = "Zyxwv" + "q" * 200
    with pytest.raises(InvalidArgument) as raised:
        create(journey, legal_name=secret_name, address="\x07Secret Lane 5")
    rendered = str(raised.value) + repr(raised.value.violations)
    assert "Zyxwv" not in rendered and "Secret Lane" not in rendered
