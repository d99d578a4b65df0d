"""What the HTTP layer retries, how often, and the 401 → refresh → retry-once rule."""

from __future__ import annotations

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from tests.clients.fake_tokens import FakeTokens
from tests.clients.recorded import recorded, sent_json
from tests.conftest import CALENDLY_API, CLOSE_API, SAVVYCAL_API
from worker.providers.errors import Unauthorized, Unavailable
from worker.sync.links import DesiredLink

UPSERT_URL = f"{CLOSE_API}/scheduling_link/integration/"
WEBHOOKS_URL = f"{CALENDLY_API}/webhook_subscriptions"
EMPTY_LINKS = {"entries": [], "metadata": {"after": None}}


def refused_connection(url: str) -> requests.exceptions.ConnectionError:
    """What requests raises when nothing listens: the request never left this machine."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    return requests.exceptions.ConnectionError(MaxRetryError(None, url, reason))


def a_link() -> DesiredLink:
    return DesiredLink(
        provider="calendly",
        external_id="AAAAAAAAAAAAAAAA",
        source_id="calendly:AAAAAAAAAAAAAAAA:user_N6Kh",
        name="15 Minute Meeting",
        url="https://calendly.com/acmesales",
        description=None,
        duration_in_minutes=30,
        source_type="Calendly · Solo",
    )


def create_webhook(client):
    return client.create_webhook(
        url="https://schedsync.example.com/webhooks/calendly/hook_1",
        organization="https://api.calendly.com/organizations/AAAAAAAAAAAAAAAA",
        user="https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
        signing_key="per-subscription-signing-key",
    )


# --- 5xx ------------------------------------------------------------------------------------


def test_a_503_on_a_get_is_retried_once_and_then_succeeds(http, make_client, sleeps):
    http.get(f"{SAVVYCAL_API}/links", status=503)
    http.get(f"{SAVVYCAL_API}/links", json=EMPTY_LINKS)

    assert make_client("savvycal", retry_backoff=0.5).links() == []

    assert [c.response.status_code for c in http.calls] == [503, 200]
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.625  # 0.5 s with ±25 % jitter


@pytest.mark.parametrize("status", [502, 504])
def test_a_bad_gateway_on_the_close_upsert_is_retried_because_the_upsert_is_idempotent(
    http, close, status
):
    http.post(UPSERT_URL, status=status)
    http.post(UPSERT_URL, json=recorded("close", "integration_link"))

    stored = close.upsert_link(a_link().payload())

    assert stored["source"] == "THIRD_PARTY"
    assert [c.response.status_code for c in http.calls] == [status, 200]
    assert sent_json(http.calls[0]) == sent_json(http.calls[1]) == a_link().payload()


def test_a_503_on_creating_a_calendly_webhook_is_not_retried(http, calendly):
    http.post(WEBHOOKS_URL, status=503)
    http.post(WEBHOOKS_URL, status=201, json=recorded("calendly", "webhook_subscription"))

    with pytest.raises(Unavailable) as raised:
        create_webhook(calendly)

    assert raised.value.status == 503
    assert len(http.calls) == 1  # a second POST could create a second subscription


def test_a_refused_connection_on_a_get_is_retried(http, savvycal):
    url = f"{SAVVYCAL_API}/links"
    http.get(url, body=refused_connection(url))
    http.get(url, json=EMPTY_LINKS)

    assert savvycal.links() == []
    assert len(http.calls) == 2


def test_a_refused_connection_on_a_non_idempotent_post_is_retried_as_nothing_was_sent(
    http, calendly
):
    http.post(WEBHOOKS_URL, body=refused_connection(WEBHOOKS_URL))
    http.post(WEBHOOKS_URL, status=201, json=recorded("calendly", "webhook_subscription"))

    created = create_webhook(calendly)

    assert created["state"] == "active"
    assert len(http.calls) == 2


@pytest.mark.parametrize(
    "failure",
    [requests.exceptions.ReadTimeout("read timed out"), requests.exceptions.ConnectionError()],
    ids=["read-timeout", "connection-dropped"],
)
def test_a_non_idempotent_post_that_may_have_arrived_is_not_retried(http, calendly, failure):
    http.post(WEBHOOKS_URL, body=failure)
    http.post(WEBHOOKS_URL, status=201, json=recorded("calendly", "webhook_subscription"))

    with pytest.raises(Unavailable):
        create_webhook(calendly)

    assert len(http.calls) == 1


def test_a_read_timeout_on_a_get_is_retried(http, savvycal):
    url = f"{SAVVYCAL_API}/links"
    http.get(url, body=requests.exceptions.ReadTimeout("read timed out"))
    http.get(url, json=EMPTY_LINKS)

    assert savvycal.links() == []
    assert len(http.calls) == 2


def test_a_body_cut_off_mid_transfer_is_retried_on_a_get_and_then_unavailable(http, savvycal):
    url = f"{SAVVYCAL_API}/links"
    http.get(url, body=requests.exceptions.ChunkedEncodingError("connection broken"))

    with pytest.raises(Unavailable):
        savvycal.links()

    assert len(http.calls) == 3


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"status": 503}, id="503"),
        pytest.param({"body": refused_connection(f"{SAVVYCAL_API}/links")}, id="refused"),
    ],
)
def test_retries_stop_after_three_attempts_with_unavailable(http, make_client, sleeps, failure):
    http.get(f"{SAVVYCAL_API}/links", **failure)

    with pytest.raises(Unavailable) as raised:
        make_client("savvycal", retry_backoff=0.5).links()

    assert len(http.calls) == 3
    assert raised.value.provider == "savvycal"
    # Two backoffs between three attempts, doubling (each with ±25 % jitter).
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.625 and 0.75 <= sleeps[1] <= 1.25


def test_a_500_is_not_retried_by_the_client(http, savvycal):
    http.get(f"{SAVVYCAL_API}/links", status=500)

    with pytest.raises(Unavailable) as raised:
        savvycal.links()

    assert raised.value.status == 500
    assert len(http.calls) == 1


# --- 401 ------------------------------------------------------------------------------------


def test_a_401_refreshes_once_and_retries_with_the_new_token(http, make_client):
    tokens = FakeTokens("old-access", "new-access")
    http.get(f"{CALENDLY_API}/users/me", status=401, json={"title": "Unauthenticated"})
    http.get(f"{CALENDLY_API}/users/me", json=recorded("calendly", "users_me"))

    me = make_client("calendly", auth=tokens).me()

    assert me["uri"] == "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"
    assert tokens.refreshed_after == ["old-access"]
    assert [c.request.headers["Authorization"] for c in http.calls] == [
        "Bearer old-access",
        "Bearer new-access",
    ]


def test_a_second_401_raises_unauthorized_without_looping(http, make_client):
    tokens = FakeTokens("old-access", "new-access", "newer-access")
    http.get(f"{CLOSE_API}/me/", status=401)

    with pytest.raises(Unauthorized) as raised:
        make_client("close", auth=tokens).me()

    assert raised.value.status == 401
    assert tokens.refreshed_after == ["old-access"]
    assert len(http.calls) == 2


def test_a_401_the_token_source_cannot_refresh_raises_unauthorized_without_retrying(
    http, make_client
):
    tokens = FakeTokens("personal-token", can_refresh=False)
    http.get(f"{SAVVYCAL_API}/me", status=401, body="Unauthenticated")

    with pytest.raises(Unauthorized):
        make_client("savvycal", auth=tokens).me()

    assert tokens.refreshed_after == ["personal-token"]
    assert len(http.calls) == 1


def test_a_401_on_the_close_upsert_is_retried_with_the_same_body(http, make_client):
    tokens = FakeTokens("old-access", "new-access")
    http.post(UPSERT_URL, status=401)
    http.post(UPSERT_URL, json=recorded("close", "integration_link"))

    make_client("close", auth=tokens).upsert_link(a_link().payload())

    assert len(http.calls) == 2
    assert sent_json(http.calls[1]) == a_link().payload()
    assert http.calls[1].request.headers["Authorization"] == "Bearer new-access"
