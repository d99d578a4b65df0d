"""A TokenSource for client tests: no database, just a record of what it was asked."""

from __future__ import annotations


class FakeTokens:
    """A TokenSource: hands out `tokens[0]`, and moves to the next one when told it was refused."""

    def __init__(self, *tokens: str, can_refresh: bool = True):
        self.tokens = list(tokens or ("token-1", "token-2"))
        self.can_refresh = can_refresh
        self.refreshed_after: list[str] = []

    def access_token(self) -> str:
        return self.tokens[0]

    def refresh_after_unauthorized(self, rejected_token: str) -> bool:
        self.refreshed_after.append(rejected_token)
        if not self.can_refresh or len(self.tokens) < 2:
            return False
        self.tokens.pop(0)
        return True
