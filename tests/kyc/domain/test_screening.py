"""Automatic screening rules, one behaviour each."""

from datetime import date

import pytest

from services.kyc.domain import (
    ApplicantProfile,
    ScreeningOutcome,
    ScreeningPolicy,
    SanctionsList,
    SanctionsMatchAction,
    age_on,
    screen,
)
from services.runtime.errors import InvalidArgument

TODAY = date(2024, 6, 1)


def profile(name="Alice Example", born=date(1990, 1, 1), country="DE") -> ApplicantProfile:
    return ApplicantProfile(name, born, country, "Somewhere 1")


def run(journey, applicant_profile, policy=None, documents=()):
    return screen(applicant_profile, documents, journey.sanctions, policy or ScreeningPolicy(), TODAY, journey.now)


def codes(result) -> list[str]:
    return [finding.code for finding in result.findings]


def test_an_adult_from_an_allowed_country_with_an_unlisted_name_is_clear(journey):
    result = run(journey, profile())
    assert (result.outcome, result.findings) == (ScreeningOutcome.CLEAR, ())


def test_eighteen_today_is_old_enough(journey):
    assert run(journey, profile(born=date(2006, 6, 1))).outcome is ScreeningOutcome.CLEAR


def test_eighteen_tomorrow_is_underage_and_rejected(journey):
    result = run(journey, profile(born=date(2006, 6, 2)))
    assert (result.outcome, codes(result)) == (ScreeningOutcome.REJECTED, ["UNDERAGE"])


def test_a_leap_day_birthday_counts_from_the_first_of_march_in_common_years():
    assert (age_on(date(2000, 2, 29), date(2018, 2, 28)), age_on(date(2000, 2, 29), date(2018, 3, 1))) == (17, 18)


def test_the_minimum_age_is_configurable(journey):
    result = run(journey, profile(born=date(2004, 1, 1)), ScreeningPolicy(min_age=21))
    assert codes(result) == ["UNDERAGE"]


@pytest.mark.parametrize("country", ["KP", "IR", "SY", "CU"])
def test_residence_in_a_default_denied_country_is_rejected(journey, country):
    result = run(journey, profile(country=country))
    assert (result.outcome, codes(result)) == (ScreeningOutcome.REJECTED, ["COUNTRY_DENIED"])


def test_the_deny_list_is_configurable(journey):
    policy = ScreeningPolicy.parse({"denied_countries": ["de"]})
    assert codes(run(journey, profile(country="DE"), policy)) == ["COUNTRY_DENIED"]


def test_an_identity_document_from_a_denied_country_is_rejected(journey):
    applicant = journey.submit(journey.create(), journey.passport(issuing_country="KP")).applicant
    assert [(f.code, f.field) for f in applicant.screening.findings] == [("COUNTRY_DENIED", "document.issuing_country")]


def test_an_unknown_country_on_the_deny_list_is_a_config_error():
    with pytest.raises(InvalidArgument) as raised:
        ScreeningPolicy.parse('{"denied_countries": ["QQ"]}')
    assert raised.value.reason == "INVALID_KYC_CONFIG"


def test_a_sanctions_match_flags_with_the_matched_entry(journey):
    result = run(journey, profile(name="JOSE NUNEZ FERRAN"))
    (finding,) = result.findings
    assert (result.outcome, finding.code, finding.sanctions_entry_id) == (ScreeningOutcome.FLAGGED, "SANCTIONS_MATCH", "SAMPLE-0004")


def test_a_reject_policy_turns_a_sanctions_match_into_a_rejection(journey):
    policy = ScreeningPolicy(sanctions_match_action=SanctionsMatchAction.REJECT)
    assert run(journey, profile(name="Jose Nunez Ferran"), policy).outcome is ScreeningOutcome.REJECTED


def test_the_match_threshold_is_configurable(journey):
    near_miss = profile(name="Ivan Testerov")
    assert run(journey, near_miss).outcome is ScreeningOutcome.FLAGGED
    assert run(journey, near_miss, ScreeningPolicy(name_match_threshold=99)).outcome is ScreeningOutcome.CLEAR


def test_all_findings_are_reported_together(journey):
    result = run(journey, profile(name="Ivana Testerova", born=date(2010, 1, 1), country="IR"))
    assert sorted(codes(result)) == ["COUNTRY_DENIED", "SANCTIONS_MATCH", "UNDERAGE"]


def test_a_sanctions_list_row_without_a_name_is_refused():
    with pytest.raises(ValueError):
        SanctionsList.from_csv("entry_id,name,aliases,program\nX-1,,,P\n")
