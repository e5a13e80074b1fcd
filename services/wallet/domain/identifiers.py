"""Client-supplied identifiers (hold, transfer, request ids) and the ids derived from them."""

from __future__ import annotations

import re

from services.runtime.errors import InvalidArgument
from services.wallet.domain.reasons import WalletReason

# Printable ASCII without spaces: order ids, trade names (`markets/X/trades/7`), UUIDs.
_ID = re.compile(r"[!-~]{1,256}")


def is_valid_id(value: str) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def validate_id(value: str, *, field: str) -> str:
    if not is_valid_id(value):
        raise InvalidArgument(
            WalletReason.INVALID_ID,
            f"invalid {field} {value!r}",
            violations=[(field, "must be 1 to 256 printable ASCII characters without spaces")],
        )
    return value


# Derived ids live in their own namespaces so they cannot collide with order or trade ids;
# callers naming holds and transfers themselves may not use these prefixes.
_DEPOSITS = "deposits/"
_WITHDRAWALS = "withdrawals/"
RESERVED_PREFIXES = (_DEPOSITS, _WITHDRAWALS)


def validate_client_id(value: str, *, field: str) -> str:
    """`validate_id`, also refusing the namespaces the Wallet derives its own ids in."""
    validate_id(value, field=field)
    if value.startswith(RESERVED_PREFIXES):
        raise InvalidArgument(
            WalletReason.INVALID_ID,
            f"invalid {field} {value!r}: reserved prefix",
            violations=[(field, f"must not start with {' or '.join(RESERVED_PREFIXES)}")],
        )
    return value


def deposit_transfer_id(request_id: str) -> str:
    return f"{_DEPOSITS}{request_id}"


def withdrawal_name(account: str, withdrawal_id: str) -> str:
    return f"{account}/withdrawals/{withdrawal_id}"


def withdrawal_hold_id(withdrawal_id: str) -> str:
    return f"{_WITHDRAWALS}{withdrawal_id}"


def withdrawal_transfer_id(withdrawal_id: str) -> str:
    return f"{_WITHDRAWALS}{withdrawal_id}"
