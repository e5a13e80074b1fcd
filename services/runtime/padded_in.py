"""A statement with an IN list of bind parameters, built and compiled once per power-of-two
length, for the direct path (`direct_statements.DirectStatement`).

An expanding IN (`bindparam(..., expanding=True)`) is rendered again on every execution, which
the direct path cannot do: it compiles a statement once and runs its SQL on the driver. So the
list is `size` plain parameters, the values padded to the next power of two by repeating the
last one (an IN does not mind a repeat): a list of up to 1024 values takes eleven statements.
Order's event follower reads its batches with one too (services/order/store.py).

`build(names)` makes the statement for one length: `names` holds, per place in the list, the
parameter names of one value (one name for a scalar, one per element for a tuple).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.sql.expression import Executable

from services.runtime.direct_statements import DirectStatement

Names = list[tuple[str, ...]]


class PaddedIn:
    def __init__(self, build: Callable[[Names], Executable], *, width: int = 1, prefix: str = "in") -> None:
        """`width`: elements per value (1: scalars; 2: pairs, as `tuple_(a, b).in_(...)` takes)."""
        self._build = build
        self._width = width
        self._prefix = prefix
        self._by_size: dict[int, tuple[DirectStatement, Names]] = {}

    def _names(self, size: int) -> Names:
        return [tuple(f"{self._prefix}{index}_{element}" for element in range(self._width)) for index in range(size)]

    def of(self, values: Sequence[Any]) -> tuple[DirectStatement, dict[str, Any]]:
        """The statement for `values` (at least one), and its parameters."""
        if not values:
            raise ValueError("an IN list needs at least one value")
        size = 1 << (len(values) - 1).bit_length()
        built = self._by_size.get(size)
        if built is None:
            names = self._names(size)
            built = self._by_size[size] = (DirectStatement(self._build(names)), names)
        statement, every_name = built
        params: dict[str, Any] = {}
        last = len(values) - 1
        for index, value_names in enumerate(every_name):
            value = values[min(index, last)]
            if self._width == 1:
                params[value_names[0]] = value
            else:
                params.update(zip(value_names, value, strict=True))
        return statement, params
