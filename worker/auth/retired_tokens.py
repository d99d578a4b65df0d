"""The TokenSource of a retired Close grant (worker/auth/retired_grants.py): its clean-up may
run hours after the switch, when the access token has expired.

Only the clean-up task uses it, and that task holds the grant's lock for its whole run, so a
refresh here is never raced; the new pair is stored with a compare-and-swap on the generation
all the same (refresh tokens are single use).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update

from worker import runtime
from worker.auth.errors import NeedsReauth
from worker.providers import oauth, registry
from worker.providers.errors import GrantRevoked
from worker.storage.models import RetiredGrant, utcnow

MARGIN_SECONDS = 60


@dataclass(frozen=True)
class RetiredTokens:
    access_token: str | None
    refresh_token: str | None
    expires_at: datetime | None
    generation: int


def stored_tokens(retired_id: int) -> RetiredTokens:
    with runtime.session_scope() as session:
        row = session.get(RetiredGrant, retired_id)
        if row is None:
            raise NeedsReauth(f"retired grant {retired_id} is gone")
        return RetiredTokens(
            row.access_token, row.refresh_token, row.token_expires_at, row.token_generation
        )


class RetiredGrantToken:
    def __init__(self, retired_id: int):
        self.retired_id = retired_id

    def access_token(self) -> str:
        tokens = stored_tokens(self.retired_id)
        expiring = tokens.expires_at is not None and tokens.expires_at - utcnow() < timedelta(
            seconds=MARGIN_SECONDS
        )
        if expiring or not tokens.access_token:
            tokens = self._refresh(tokens)
        if not tokens.access_token:
            raise NeedsReauth(f"retired grant {self.retired_id} has no access token")
        return tokens.access_token

    def refresh_after_unauthorized(self, rejected_token: str) -> bool:
        tokens = stored_tokens(self.retired_id)
        if tokens.access_token != rejected_token:
            return True
        try:
            return self._refresh(tokens).access_token != rejected_token
        except NeedsReauth:
            return False

    def _refresh(self, tokens: RetiredTokens) -> RetiredTokens:
        if not tokens.refresh_token:
            raise NeedsReauth(f"retired grant {self.retired_id} cannot be refreshed")
        provider = registry.oauth_provider(runtime.settings(), registry.CLOSE.name)
        try:
            grant = oauth.refresh(provider, tokens.refresh_token)
        except GrantRevoked as exc:
            raise NeedsReauth(f"the retired Close grant is dead already: {exc}") from exc
        new = RetiredTokens(
            grant.access_token,
            grant.refresh_token or tokens.refresh_token,
            grant.expires_at,
            tokens.generation + 1,
        )
        with runtime.session_scope() as session:
            session.execute(
                update(RetiredGrant)
                .where(
                    RetiredGrant.id == self.retired_id,
                    RetiredGrant.token_generation == tokens.generation,
                )
                .values(
                    access_token=new.access_token,
                    refresh_token=new.refresh_token,
                    token_expires_at=new.expires_at,
                    token_generation=new.generation,
                )
                .execution_options(synchronize_session=False)
            )
        return new
