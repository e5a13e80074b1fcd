"""AIP-158 pagination: page sizes with a documented default and cap, opaque page tokens; and
reading every page of a peer's List method."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from services.runtime.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


class PageRequest(Protocol):
    page_token: str


class PageResponse(Protocol):
    @property
    def next_page_token(self) -> str: ...


Q = TypeVar("Q", bound=PageRequest)
R = TypeVar("R", bound=PageResponse)


@dataclass(frozen=True)
class Page:
    size: int
    # Where the previous page stopped; what it means is up to the List method (an offset,
    # a sequence, a key). None for the first page.
    cursor: str | None
    # The filter the token is bound to (read_page's `query`): the next page's token carries it.
    query: str = ""

    @property
    def after_number(self) -> int:
        """The cursor as a sequence or revision number: list what comes after it (0 at first)."""
        if self.cursor is None:
            return 0
        if not self.cursor.isdigit():
            raise InvalidArgument("INVALID_PAGE_TOKEN", "page_token is not one this service issued",
                                  violations=[("page_token", "is malformed")])
        return int(self.cursor)

    def cut(self, rows: Sequence[T], cursor: Callable[[T], str], *, more: bool = False) -> tuple[Sequence[T], str]:
        """`rows` read with `limit=size + 1` (one more tells whether another page follows): this
        page's rows and the next page's token, "" on the last page. `cursor` names where a row
        stands (its sequence, its key) for the next page to list what comes after it. `more`:
        rows follow these though `rows` holds no extra one (a source read apart said so)."""
        shown = rows[:self.size]
        follows = len(rows) > self.size or (more and bool(shown))
        return shown, encode_token(cursor(shown[-1]), self.query) if follows else ""


def encode_token(cursor: str, query: str = "") -> str:
    """Opaque and URL-safe. `query` binds the token to the filter it was made for."""
    raw = json.dumps({"c": cursor, "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_page(page_size: int, page_token: str, query: str = "") -> Page:
    if page_size < 0:
        raise InvalidArgument("INVALID_ARGUMENT", "page_size must not be negative",
                              violations=[("page_size", "must not be negative")])
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if not page_token:
        return Page(size, None, query)
    try:
        padded = page_token + "=" * (-len(page_token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        cursor, token_query = str(data["c"]), str(data["q"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidArgument("INVALID_PAGE_TOKEN", "page_token is not one this service issued",
                              violations=[("page_token", "is malformed")]) from None
    if token_query != query:
        raise InvalidArgument("INVALID_PAGE_TOKEN", "page_token was issued for another query",
                              violations=[("page_token", "does not match the request's filter")])
    return Page(size, cursor, query)


async def every_page(call: Callable[[Q], Awaitable[R]], request: Q) -> AsyncIterator[R]:
    """Each page a List call answers, from the first to the one with no next_page_token: how a
    service reads all of what a peer lists. `request` is sent again for each page with that
    page's token (its page_token is overwritten); `call` carries the call's options."""
    while True:
        page = await call(request)
        yield page
        if not page.next_page_token:
            return
        request.page_token = page.next_page_token
