"""CheckEligibility: may this account place this order / make this withdrawal now?

Pure: the adapter supplies the applicant and the usage in the rolling 24 h window (and caches
the answer); this function only applies the tier's limits.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from services.kyc.domain.reasons import KycReason
from services.kyc.domain.model import ApplicantState, Tier
from services.kyc.domain.tiers import TierLimits, TierTable
from services.runtime.validation import Violations


class EligibilityAction(StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    PLACE_ORDER = "PLACE_ORDER"  # amount: the order's notional in the tier table's notional_asset
    WITHDRAW = "WITHDRAW"  # amount: the withdrawal in `asset`


class KycStatus(Protocol):
    """All eligibility needs of an applicant: an Applicant, or a cached KycStanding."""

    @property
    def state(self) -> ApplicantState: ...

    @property
    def tier(self) -> Tier: ...


@dataclass(frozen=True, slots=True)
class KycStanding:
    """An account's state and tier without its PII: what the service may cache."""

    state: ApplicantState
    tier: Tier


@dataclass(frozen=True, slots=True)
class EligibilityDecision:
    allowed: bool
    tier: Tier
    reason: KycReason | None  # KYC_REQUIRED / KYC_TIER_TOO_LOW / KYC_LIMIT_EXCEEDED when denied
    # The largest amount this action could have right now (before this request); None = no limit.
    remaining: Decimal | None


def _headroom(*limits: Decimal | None) -> Decimal | None:
    """The tightest of several remaining allowances (None = unlimited), never below zero."""
    finite = [limit for limit in limits if limit is not None]
    return max(min(finite), Decimal(0)) if finite else None


def _minus(limit: Decimal | None, used: Decimal) -> Decimal | None:
    return None if limit is None else limit - used


def _validate(action: EligibilityAction | str, asset: str, amount: Decimal, used_24h: Decimal, tiers: TierTable) -> EligibilityAction:
    violations = Violations()
    try:
        parsed = EligibilityAction(action)
    except ValueError:
        parsed = EligibilityAction.UNSPECIFIED
    if parsed is EligibilityAction.UNSPECIFIED:
        violations.add("action", "must be PLACE_ORDER or WITHDRAW")
    if not asset:
        violations.add("asset", "must not be empty")
    elif parsed is EligibilityAction.PLACE_ORDER and asset != tiers.notional_asset:
        violations.add("asset", f"order notionals must be given in {tiers.notional_asset}")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        violations.add("amount", "must be a positive decimal")
    if not isinstance(used_24h, Decimal) or not used_24h.is_finite() or used_24h < 0:
        violations.add("used_24h", "must be a non-negative decimal")
    violations.raise_if_any("the eligibility request has invalid fields", reason=KycReason.INVALID_ELIGIBILITY_REQUEST)
    return parsed


def _trading_headroom(limits: TierLimits, used_24h: Decimal) -> Decimal | None:
    return _headroom(limits.max_order_notional, _minus(limits.daily_traded_notional, used_24h))


def check_eligibility(
    applicant: KycStatus | None,
    *,
    action: EligibilityAction | str,
    asset: str,
    amount: Decimal,
    used_24h: Decimal,
    tiers: TierTable,
) -> EligibilityDecision:
    """`used_24h`: notional traded (PLACE_ORDER) or amount of `asset` withdrawn (WITHDRAW) in the
    rolling 24 h window before this request."""
    parsed = _validate(action, asset, amount, used_24h, tiers)
    if applicant is None or applicant.state is not ApplicantState.APPROVED:
        return EligibilityDecision(False, Tier.TIER_0, KycReason.KYC_REQUIRED, Decimal(0))

    limits = tiers.limits_for(applicant.tier)
    if parsed is EligibilityAction.PLACE_ORDER:
        permitted = limits.may_trade
        headroom = _trading_headroom(limits, used_24h)
    else:
        daily_limit = limits.withdrawal_limit(asset)
        permitted = daily_limit is None or daily_limit > 0
        headroom = _headroom(_minus(daily_limit, used_24h))

    if not permitted:
        return EligibilityDecision(False, applicant.tier, KycReason.KYC_TIER_TOO_LOW, Decimal(0))
    if headroom is not None and amount > headroom:
        return EligibilityDecision(False, applicant.tier, KycReason.KYC_LIMIT_EXCEEDED, headroom)
    return EligibilityDecision(True, applicant.tier, None, headroom)
