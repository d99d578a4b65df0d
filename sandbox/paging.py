"""Keyset pagination with opaque tokens (Calendly's `page_token`, SavvyCal's `before`/`after`).

A token names the sort key of the item at a page edge, not an offset, so a page boundary stays put
when items are added or removed between requests, as with the real APIs.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class BadCursor(ValueError):
    pass


class Desc:
    """Wraps a sort value so that it orders in reverse (for `field:desc`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: Desc) -> bool:
        return other.value < self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Desc) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


def encode_cursor(key_values: Sequence[Any], direction: str) -> str:
    raw = json.dumps({"k": list(key_values), "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[list[Any], str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        values, direction = data["k"], data["d"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadCursor("page token is not valid") from exc
    if not isinstance(values, list) or direction not in ("next", "prev"):
        raise BadCursor("page token is not valid")
    return values, direction


def keyset_page(
    items: Sequence[T],
    raw_key: Callable[[T], list[Any]],
    wrap: Callable[[list[Any]], tuple[Any, ...]],
    count: int,
    cursor: tuple[list[Any], str] | None,
) -> tuple[list[T], str | None, str | None]:
    """(page, next token, previous token) over `items`, already sorted by wrap(raw_key(item)).

    `raw_key` gives JSON-safe values (they go into the token); `wrap` turns them into the
    comparable key, e.g. wrapping descending fields in `Desc`.
    """
    keys = [wrap(raw_key(item)) for item in items]
    if cursor is None:
        start = 0
    else:
        values, direction = cursor
        try:
            at = wrap(values)
            if direction == "next":
                start = bisect.bisect_right(keys, at)
            else:
                start = max(0, bisect.bisect_left(keys, at) - count)
        except (TypeError, IndexError) as exc:
            raise BadCursor("page token is not valid") from exc
    page = list(items[start : start + count])
    end = start + len(page)
    next_token = encode_cursor(raw_key(page[-1]), "next") if page and end < len(items) else None
    prev_token = encode_cursor(raw_key(page[0]), "prev") if page and start > 0 else None
    return page, next_token, prev_token
