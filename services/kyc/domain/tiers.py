"""Tier limits (0, 1, 2) from configuration. Amounts are Decimals; None means "no limit".

Trading limits are notionals in one reference asset (`notional_asset`); the caller converts an
order's notional into it. Withdrawal limits are per asset, with "*" as an optional fallback;
an asset with neither cannot be withdrawn at that tier (deny by default, so listing a new asset
does not silently open withdrawals).
"""

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.kyc.domain.config_errors import invalid_config
from services.kyc.domain.model import Tier

ANY_ASSET = "*"
NonNegativeLimit = Decimal | None


class TierLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    may_trade: bool
    max_order_notional: NonNegativeLimit = Field(ge=0)
    daily_traded_notional: NonNegativeLimit = Field(ge=0)
    daily_withdrawal: dict[str, NonNegativeLimit] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _non_negative_withdrawals(self) -> "TierLimits":
        if any(limit is not None and limit < 0 for limit in self.daily_withdrawal.values()):
            raise ValueError("daily_withdrawal limits must not be negative")
        return self

    def withdrawal_limit(self, asset: str) -> NonNegativeLimit:
        """The asset's rolling-24h limit; Decimal 0 where the tier may not withdraw it."""
        if asset in self.daily_withdrawal:
            return self.daily_withdrawal[asset]
        return self.daily_withdrawal.get(ANY_ASSET, Decimal(0))

    @property
    def may_withdraw_anything(self) -> bool:
        return any(limit is None or limit > 0 for limit in self.daily_withdrawal.values())


class TierTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    notional_asset: str = Field(default="USDC", min_length=1)
    tiers: dict[Tier, TierLimits]

    @model_validator(mode="after")
    def _every_tier_and_tier_zero_closed(self) -> "TierTable":
        missing = [str(tier.value) for tier in Tier if tier not in self.tiers]
        if missing:
            raise ValueError(f"limits missing for tier(s) {', '.join(missing)}")
        tier_zero = self.tiers[Tier.TIER_0]
        # The rule, not a default: an account without approved KYC can do nothing.
        if tier_zero.may_trade or tier_zero.may_withdraw_anything:
            raise ValueError("tier 0 may neither trade nor withdraw")
        return self

    def limits_for(self, tier: Tier) -> TierLimits:
        return self.tiers[tier]

    @classmethod
    def parse(cls, source: str | Mapping[str, Any]) -> "TierTable":
        """From a JSON string or a mapping; raises InvalidArgument(INVALID_KYC_CONFIG)."""
        try:
            data = json.loads(source) if isinstance(source, str) else source
            return cls.model_validate(data)
        except json.JSONDecodeError as exc:
            raise invalid_config("tier", _as_validation_error(str(exc))) from exc
        except ValidationError as exc:
            raise invalid_config("tier", exc) from exc


def _as_validation_error(message: str) -> ValidationError:
    return ValidationError.from_exception_data("TierTable", [{"type": "value_error", "loc": (), "input": None, "ctx": {"error": message}}])


# Every market quotes in USDC (GRID-USDC, BTC-USDC), so an order's notional needs no conversion;
# the withdrawal lists cover the Wallet's default assets (USDC, GRID, BTC) and common others.
DEFAULT_TIER_TABLE = TierTable.parse(
    {
        "notional_asset": "USDC",
        "tiers": {
            "0": {"may_trade": False, "max_order_notional": "0", "daily_traded_notional": "0"},
            "1": {
                "may_trade": True,
                "max_order_notional": "10000",
                "daily_traded_notional": "50000",
                "daily_withdrawal": {"BTC": "0.5", "ETH": "5", "GRID": "100000", "SOL": "100", "USD": "10000", "USDC": "10000", "USDT": "10000"},
            },
            "2": {
                "may_trade": True,
                "max_order_notional": "250000",
                "daily_traded_notional": "2000000",
                "daily_withdrawal": {"BTC": "10", "ETH": "150", "GRID": "5000000", "SOL": "5000", "USD": "500000", "USDC": "500000", "USDT": "500000"},
            },
        },
    }
)
