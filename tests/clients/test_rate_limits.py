"""429s honoured from each provider's own headers, and the shared pause that keeps every worker
from calling a rate-limited key before its reset (CONTRACT §5 "Rate limits")."""

from __future__ import annotations

import math
import time

import pytest

from tests.clients.recorded import recorded
from tests.conftest import CALENDLY_API, CLOSE_API, SAVVYCAL_API
from worker.providers.errors import RateLimited
from worker.providers.pacing import RedisPacer

USER_URI = "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"

# Each provider's listing: (client kind, URL it calls, how to call it, an empty answer).
LISTINGS = {
    "close": (
        f"{CLOSE_API}/scheduling_link/",
        lambda c: c.scheduling_links(),
        {"data": [], "has_more": False},
    ),
    "calendly": (
        f"{CALENDLY_API}/event_types",
        lambda c: c.event_types(USER_URI),
        {"collection": [], "pagination": {"next_page_token": None}},
    ),
    "savvycal": (
        f"{SAVVYCAL_API}/links",
        lambda c: c.links(),
        {"entries": [], "metadata": {"after": None}},
    ),
}

ANNOUNCED_429S = [
    pytest.param(
        "close",
        {"RateLimit": "limit=100, remaining=0, reset=2.5", "Retry-After": "3"},
        2.5,
        id="close-ratelimit-decimal-reset-preferred",
    ),
    pytest.param("close", {"Retry-After": "3"}, 3.0, id="close-retry-after-fallback"),
    pytest.param(
        "calendly",
        {"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "37"},
        37.0,
        id="calendly-x-ratelimit-reset",
    ),
    pytest.param("savvycal", {"Retry-After": "12"}, 12.0, id="savvycal-retry-after"),
]


@pytest.mark.parametrize(("kind", "headers", "wait"), ANNOUNCED_429S)
def test_a_429_raises_rate_limited_with_the_wait_the_provider_announced(
    http, make_client, kind, headers, wait
):
    url, call, _ = LISTINGS[kind]
    http.get(url, status=429, headers=headers)

    with pytest.raises(RateLimited) as raised:
        call(make_client(kind))

    assert raised.value.retry_after == wait
    assert raised.value.provider == kind
    assert len(http.calls) == 1  # a 429 is not retried in place: the task layer waits


@pytest.mark.parametrize(("kind", "headers", "wait"), ANNOUNCED_429S)
def test_after_a_429_no_call_for_that_key_is_sent_before_the_reset(
    http, make_client, pacer, fake_redis, kind, headers, wait
):
    url, call, _ = LISTINGS[kind]
    http.get(url, status=429, headers=headers)
    with pytest.raises(RateLimited):
        call(make_client(kind, pacer=pacer))

    with pytest.raises(RateLimited) as again:
        call(make_client(kind, pacer=pacer))
    # Another worker process sees the same pause through Redis.
    with pytest.raises(RateLimited) as elsewhere:
        call(make_client(kind, pacer=RedisPacer(fake_redis, max_inline_wait=0.0)))

    assert len(http.calls) == 1
    for refused in (again.value, elsewhere.value):
        assert wait - 1 < refused.retry_after <= wait + 0.01  # stored to the millisecond


def test_calls_are_sent_again_once_the_announced_reset_has_passed(http, make_client, pacer):
    url, call, empty = LISTINGS["close"]
    http.get(url, status=429, headers={"RateLimit": "limit=100, remaining=0, reset=0.05"})
    http.get(url, json=empty)
    client = make_client("close", pacer=pacer)
    with pytest.raises(RateLimited):
        call(client)
    # (That the key is refused meanwhile is shown above with longer resets: asserting it inside
    # a 50 ms window would depend on the machine's speed.)
    reset_at = time.monotonic() + 0.05

    time.sleep(max(reset_at - time.monotonic(), 0) + 0.01)

    assert call(client) == []
    assert len(http.calls) == 2


@pytest.mark.parametrize(
    ("kind", "headers", "wait"),
    [
        ("close", {"RateLimit": "limit=100, remaining=0, reset=30"}, 30.0),
        (
            "calendly",
            {"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "37"},
            37.0,
        ),
    ],
)
def test_a_success_announcing_no_remaining_budget_pauses_the_key_too(
    http, make_client, pacer, kind, headers, wait
):
    url, call, empty = LISTINGS[kind]
    http.get(url, json=empty, headers=headers)
    client = make_client(kind, pacer=pacer)

    assert call(client) == []
    with pytest.raises(RateLimited) as refused:
        call(client)

    assert len(http.calls) == 1
    assert wait - 1 < refused.value.retry_after <= wait + 0.01


def test_close_pauses_only_the_endpoint_group_and_organization_that_hit_the_limit(
    http, make_client, pacer
):
    url, call, empty = LISTINGS["close"]
    http.get(url, status=429, headers={"RateLimit": "limit=100, remaining=0, reset=30"})
    http.get(url, json=empty)
    http.get(f"{CLOSE_API}/me/", json={"id": "user_1", "email": "rep@example.com"})
    with pytest.raises(RateLimited):
        call(make_client("close", pacer=pacer, rate_owner="orga_1"))

    me = make_client("close", pacer=pacer, rate_owner="orga_1").me()
    other_org = call(make_client("close", pacer=pacer, rate_owner="orga_2"))

    assert me["id"] == "user_1" and other_org == []
    assert [c.request.url.split("?")[0] for c in http.calls] == [
        f"{CLOSE_API}/scheduling_link/",
        f"{CLOSE_API}/me/",
        f"{CLOSE_API}/scheduling_link/",
    ]


def test_calendly_pauses_every_endpoint_of_the_user_that_hit_the_limit(http, make_client, pacer):
    url, call, _ = LISTINGS["calendly"]
    http.get(url, status=429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "60"})
    http.get(f"{CALENDLY_API}/users/me", json=recorded("calendly", "users_me"))
    client = make_client("calendly", pacer=pacer)
    with pytest.raises(RateLimited):
        call(client)

    with pytest.raises(RateLimited):
        client.me()  # Calendly counts per user across all endpoints

    assert len(http.calls) == 1


def test_calls_go_out_unpaced_when_the_rate_limit_state_is_unreachable(
    http, make_client, pacer, fake_redis_server
):
    url, call, empty = LISTINGS["savvycal"]
    http.get(url, json=empty)
    fake_redis_server.connected = False

    assert call(make_client("savvycal", pacer=pacer)) == []
    assert len(http.calls) == 1


NONSENSE = ["nan", "inf", "-inf", "1e400", "1e308", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", ""]


@pytest.mark.parametrize("value", NONSENSE)
@pytest.mark.parametrize(
    ("kind", "header_names"),
    [
        ("close", ("RateLimit-reset", "Retry-After")),
        ("calendly", ("X-RateLimit-Reset", "X-RateLimit-Remaining")),
        ("savvycal", ("Retry-After",)),
    ],
)
def test_a_429_with_nonsense_rate_limit_headers_still_raises_a_finite_wait(
    http, make_client, pacer, kind, header_names, value
):
    url, call, _ = LISTINGS[kind]
    headers = {}
    for name in header_names:
        if name == "RateLimit-reset":
            headers["RateLimit"] = f"limit=100, remaining=0, reset={value}"
        else:
            headers[name] = value
    http.get(url, status=429, headers=headers)

    with pytest.raises(RateLimited) as raised:
        call(make_client(kind, pacer=pacer))

    assert math.isfinite(raised.value.retry_after)
    assert 0 <= raised.value.retry_after <= 24 * 3600


@pytest.mark.parametrize("value", NONSENSE)
@pytest.mark.parametrize("kind", ["close", "calendly"])
def test_a_success_with_nonsense_rate_limit_headers_is_read_normally(
    http, make_client, pacer, kind, value
):
    url, call, empty = LISTINGS[kind]
    if kind == "close":
        headers = {"RateLimit": f"limit=100, remaining={value}, reset={value}"}
    else:
        headers = {"X-RateLimit-Remaining": value, "X-RateLimit-Reset": value}
    http.get(url, json=empty, headers=headers)

    assert call(make_client(kind, pacer=pacer)) == []
