"""The Calendly client's single-resource calls and webhook subscriptions
(reference/calendly-api.md §2.1, §3.1, §3.3)."""

from __future__ import annotations

from tests.clients.recorded import query, recorded, sent_json
from tests.conftest import CALENDLY_API, SAVVYCAL_API

ORG_URI = "https://api.calendly.com/organizations/AAAAAAAAAAAAAAAA"
USER_URI = "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"
HOOK_URL = "https://schedsync.example.com/webhooks/calendly/hook_1"


def test_event_type_reads_one_event_type_by_uuid(http, calendly):
    http.get(
        f"{CALENDLY_API}/event_types/AAAAAAAAAAAAAAAA", json=recorded("calendly", "event_type")
    )

    item = calendly.event_type("AAAAAAAAAAAAAAAA")

    (call,) = http.calls
    assert call.request.method == "GET"
    assert call.request.url == f"{CALENDLY_API}/event_types/AAAAAAAAAAAAAAAA"
    assert call.request.headers["Authorization"] == "Bearer access-token-1"
    assert item["uri"] == "https://api.calendly.com/event_types/AAAAAAAAAAAAAAAA"
    assert item["active"] is True and item["deleted_at"] is None
    assert item["duration"] == 30 and item["kind"] == "solo" and item["secret"] is True


def test_me_reads_the_user_and_their_organization(http, calendly):
    http.get(f"{CALENDLY_API}/users/me", json=recorded("calendly", "users_me"))

    me = calendly.me()

    assert http.calls[0].request.url == f"{CALENDLY_API}/users/me"
    assert me["uri"] == USER_URI
    assert me["current_organization"] == ORG_URI
    assert me["email"] == "test@example.com"


def test_create_webhook_subscribes_the_user_to_event_type_changes(http, calendly):
    http.post(
        f"{CALENDLY_API}/webhook_subscriptions",
        status=201,
        json=recorded("calendly", "webhook_subscription"),
    )

    created = calendly.create_webhook(
        url=HOOK_URL, organization=ORG_URI, user=USER_URI, signing_key="per-hook-signing-key"
    )

    (call,) = http.calls
    assert call.request.method == "POST"
    assert call.request.url == f"{CALENDLY_API}/webhook_subscriptions"
    assert call.request.headers["Content-Type"] == "application/json"
    assert sent_json(call) == {
        "url": HOOK_URL,
        "events": ["event_type.created", "event_type.updated", "event_type.deleted"],
        "organization": ORG_URI,
        "user": USER_URI,
        "scope": "user",
        "signing_key": "per-hook-signing-key",
    }
    assert created["uri"] == "https://api.calendly.com/webhook_subscriptions/AAAAAAAAAAAAAAAA"
    assert created["state"] == "active"
    assert created["callback_url"] == HOOK_URL


def test_webhook_reads_one_subscription(http, calendly):
    http.get(
        f"{CALENDLY_API}/webhook_subscriptions/AAAAAAAAAAAAAAAA",
        json=recorded("calendly", "webhook_subscription"),
    )

    hook = calendly.webhook("AAAAAAAAAAAAAAAA")

    assert http.calls[0].request.method == "GET"
    assert hook["events"] == ["event_type.created", "event_type.updated", "event_type.deleted"]


def test_webhooks_lists_the_users_subscriptions(http, calendly):
    http.get(
        f"{CALENDLY_API}/webhook_subscriptions",
        json={
            "collection": [recorded("calendly", "webhook_subscription")["resource"]],
            "pagination": {"count": 1, "next_page": None, "next_page_token": None},
        },
    )

    hooks = calendly.webhooks(organization=ORG_URI, user=USER_URI)

    assert [h["state"] for h in hooks] == ["active"]
    assert query(http.calls[0].request) == {
        "organization": ORG_URI,
        "user": USER_URI,
        "scope": "user",
        "count": "100",
    }


def test_delete_webhook_is_true_when_deleted_and_false_when_already_gone(http, calendly):
    http.delete(f"{CALENDLY_API}/webhook_subscriptions/GONE", status=404)
    http.delete(f"{CALENDLY_API}/webhook_subscriptions/HERE", status=204)

    assert calendly.delete_webhook("HERE") is True
    assert calendly.delete_webhook("GONE") is False
    assert [(c.request.method, c.request.url) for c in http.calls] == [
        ("DELETE", f"{CALENDLY_API}/webhook_subscriptions/HERE"),
        ("DELETE", f"{CALENDLY_API}/webhook_subscriptions/GONE"),
    ]


def test_savvycal_me_reads_the_user(http, savvycal):
    http.get(f"{SAVVYCAL_API}/me", json=recorded("savvycal", "me"))

    me = savvycal.me()

    assert http.calls[0].request.url == f"{SAVVYCAL_API}/me"
    assert http.calls[0].request.headers["Authorization"] == "Bearer access-token-1"
    assert me["id"] == "user_01ED74HMFGVZ92YVCWTD8Y8H6X"
