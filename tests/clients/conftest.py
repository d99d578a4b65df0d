"""Clients pointed at the fake hosts of tests/conftest.py, a token source that records what it
is asked, recorded sleeps instead of real ones, and a `responses` mock that must see every
request the test expects."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import responses

from tests.clients.fake_tokens import FakeTokens
from worker.providers.calendly.client import CalendlyClient
from worker.providers.close.client import CloseClient
from worker.providers.pacing import RedisPacer
from worker.providers.savvycal.client import SavvyCalClient


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def sleeps() -> list[float]:
    """Every backoff the clients asked for, in seconds (nothing really sleeps)."""
    return []


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens("access-token-1", "access-token-2")


@pytest.fixture
def pacer(fake_redis) -> RedisPacer:
    # No inline waiting: a paused key answers RateLimited at once, so tests never sleep.
    return RedisPacer(fake_redis, max_inline_wait=0.0)


@pytest.fixture
def make_client(settings, tokens, sleeps) -> Callable:
    """make_client("close" | "calendly" | "savvycal", **overrides) -> a client on the fake host."""
    kinds = {
        "close": (CloseClient, settings.close_api_url),
        "calendly": (CalendlyClient, settings.calendly_api_url),
        "savvycal": (SavvyCalClient, settings.savvycal_api_url),
    }

    def build(kind: str, **overrides):
        cls, base_url = kinds[kind]
        options = {
            "auth": tokens,
            "timeout": settings.http_timeout_seconds,
            "retry_backoff": settings.http_retry_backoff_seconds,
            "rate_owner": f"owner-of-{kind}",
            "sleep": sleeps.append,
        }
        options.update(overrides)
        return cls(base_url, **options)

    return build


@pytest.fixture
def close(make_client) -> CloseClient:
    return make_client("close")


@pytest.fixture
def calendly(make_client) -> CalendlyClient:
    return make_client("calendly")


@pytest.fixture
def savvycal(make_client) -> SavvyCalClient:
    return make_client("savvycal")
