"""Replays of an id: same payload returns the first result, a different one is refused.

Like TigerBeetle's `exists` / `exists_with_different_*`: the caller learns which fields
differ, so a client bug (reusing an id) is told apart from a harmless retry.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.runtime.errors import AlreadyExists
from services.wallet.domain.reasons import WalletReason


def differing_fields(stored: Mapping[str, object], requested: Mapping[str, object]) -> list[str]:
    return sorted(key for key in stored.keys() | requested.keys() if stored.get(key) != requested.get(key))


def check_replay(
    reason: WalletReason, id_field: str, id_value: str,
    stored: Mapping[str, object], requested: Mapping[str, object],
) -> None:
    """Return quietly if `requested` repeats `stored`; else raise AlreadyExists with the diff."""
    different = differing_fields(stored, requested)
    if different:
        raise AlreadyExists(
            reason,
            f"{id_field} {id_value} was already used with different {', '.join(different)}",
            metadata={"id": id_value, "differentFields": ",".join(different)},
        )
