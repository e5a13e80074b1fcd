"""Withdrawals: hold-backed payouts that end COMPLETED (posted) or FAILED (hold released)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.runtime.errors import FailedPrecondition
from services.wallet.domain.reasons import WalletReason


class WithdrawalState(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Withdrawal:
    withdrawal_id: str  # the request_id of the Withdraw call that created it
    name: str  # accounts/{account}/withdrawals/{withdrawal_id}
    account: str
    asset: str
    units: int
    destination: str
    hold_id: str
    state: WithdrawalState
    create_time: datetime
    update_time: datetime
    failure_reason: str | None = None

    def completed(self, at: datetime) -> Withdrawal:
        self._require_pending("complete")
        return replace(self, state=WithdrawalState.COMPLETED, update_time=at)

    def failed(self, at: datetime, reason: str) -> Withdrawal:
        self._require_pending("fail")
        return replace(self, state=WithdrawalState.FAILED, update_time=at, failure_reason=reason)

    def _require_pending(self, action: str) -> None:
        if self.state is not WithdrawalState.PENDING:
            raise FailedPrecondition(
                WalletReason.WITHDRAWAL_NOT_PENDING,
                f"cannot {action} withdrawal {self.name}: it is {self.state}",
                metadata={"withdrawal": self.name, "state": str(self.state)},
            )
