"""The control API and page: env, reset, scale seed, faults, traffic record, hand edits."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.flows import bearer, close_tokens, state_of

CLOSE_ME = "/close/api/v1/me/"


def test_env_block_uses_the_public_url_and_the_default_credentials(sb, make_sandbox_app):
    env = sb.get("/_sandbox/env").get_json()
    assert env["CLOSE_API_URL"] == "http://sandbox.test/close/api/v1"
    assert env["CLOSE_AUTHORIZE_URL"] == "http://sandbox.test/close/oauth2/authorize/"
    assert env["CALENDLY_AUTH_URL"] == "http://sandbox.test/calendly/auth"
    assert env["SAVVYCAL_BOOKING_URL"] == "http://sandbox.test/savvycal/book"
    assert env["CALENDLY_WEBHOOK_SIGNING_KEY"] == "sandbox-calendly-signing-key"
    from_host = make_sandbox_app(SANDBOX_PUBLIC_URL=None, CLOSE_CLIENT_ID="mine").test_client()
    env = from_host.get("/_sandbox/env", base_url="http://10.0.0.5:5050").get_json()
    assert env["CALENDLY_API_URL"] == "http://10.0.0.5:5050/calendly/api"
    assert env["CLOSE_CLIENT_ID"] == "mine"


def test_reset_restores_the_same_demo_ids_or_an_empty_world(sb):
    before = state_of(sb)
    sb.post("/_sandbox/close/links", json={"user_id": "alice@example.com", "name": "Extra"})
    sb.post("/_sandbox/reset")
    after = state_of(sb)
    assert after["close"]["links"] == before["close"]["links"]
    assert [u["uuid"] for u in after["calendly"]["users"]] == [
        u["uuid"] for u in before["calendly"]["users"]
    ]
    sb.post("/_sandbox/reset", json={"seed": "empty"})
    assert state_of(sb)["close"]["users"] == []


def test_scale_seed_of_1000_users_is_quick_and_returns_ids_for_oauth(sb):
    started = time.monotonic()
    answer = sb.post("/_sandbox/seed/scale", json={"users": 1000})
    assert time.monotonic() - started < 5
    users = answer.get_json()["users"]
    assert answer.status_code == 201 and len(users) == 1000
    assert users[0]["close_user_id"].startswith("user_")
    assert users[0]["savvycal_personal_token"].startswith("pt_secret_")
    tokens = close_tokens(sb, users[-1]["email"])
    assert tokens["user_id"] == users[-1]["close_user_id"]


def test_faults_fail_provider_calls_but_never_the_control_api(sb):
    headers = bearer(close_tokens(sb)["access_token"])
    sb.post("/_sandbox/faults", json={"provider": "close", "error_rate": 1.0, "status": 503})
    failed = sb.get(CLOSE_ME, headers=headers)
    assert failed.status_code == 503 and "error" in failed.get_json()
    assert sb.get("/_sandbox/state").status_code == 200
    assert sb.get("/calendly/api/users/me").status_code == 401  # other providers untouched
    sb.delete("/_sandbox/faults")
    assert sb.get(CLOSE_ME, headers=headers).status_code == 200


def test_error_rate_is_a_seeded_fraction(sb):
    headers = bearer(close_tokens(sb)["access_token"])
    sb.post("/_sandbox/faults", json={"provider": "all", "error_rate": 0.3, "seed": 7})
    first = [sb.get(CLOSE_ME, headers=headers).status_code for _ in range(200)]
    sb.post("/_sandbox/faults", json={"provider": "all", "error_rate": 0.3, "seed": 7})
    second = [sb.get(CLOSE_ME, headers=headers).status_code for _ in range(200)]
    assert first == second and 30 < first.count(503) < 90


def test_drop_closes_the_connection_without_an_answer(sb, live_sandbox):
    sb.post("/_sandbox/faults", json={"provider": "close", "drop_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{live_sandbox}{CLOSE_ME}", timeout=5)
    assert requests.get(f"{live_sandbox}/_sandbox/env", timeout=5).status_code == 200


def test_latency_is_added_to_provider_calls(sb):
    sb.post("/_sandbox/faults", json={"provider": "savvycal", "latency_ms": 150})
    started = time.monotonic()
    sb.get("/savvycal/api/v1/me")
    assert time.monotonic() - started >= 0.15


def test_requests_are_counted_per_provider_and_path_template(sb):
    headers = bearer(close_tokens(sb)["access_token"])
    sb.delete("/_sandbox/requests")
    sb.get(CLOSE_ME, headers=headers)
    sb.delete("/close/api/v1/scheduling_link/integration/a%3Ab/", headers=headers)
    seen = sb.get("/_sandbox/requests").get_json()
    assert seen["counts"]["close"] == {
        "GET /close/api/v1/me/": 1,
        "DELETE /close/api/v1/scheduling_link/integration/<path:source_id>/": 1,
    }
    assert seen["statuses"]["close"] == {"200": 1, "404": 1}


def test_hand_edits_to_close_links_show_in_the_close_api(sb):
    headers = bearer(close_tokens(sb)["access_token"])
    link = sb.post(
        "/_sandbox/close/links",
        json={"user_id": "alice@example.com", "name": "By hand", "url": "https://x.test/h"},
    ).get_json()
    assert link["source"] == "MANUAL"
    sb.patch(f"/_sandbox/close/links/{link['id']}", json={"name": "Renamed"})
    names = {
        lnk["name"]
        for lnk in sb.get("/close/api/v1/scheduling_link/", headers=headers).get_json()["data"]
    }
    assert "Renamed" in names
    assert sb.delete(f"/_sandbox/close/links/{link['id']}").status_code == 204
    assert sb.delete(f"/_sandbox/close/links/{link['id']}").status_code == 404


def test_event_type_and_savvycal_edits_validate_their_input(sb):
    bad = sb.post(
        "/_sandbox/calendly/event_types",
        json={"user": "alice@example.com", "name": "X", "duration": "long"},
    )
    assert bad.status_code == 400 and "duration" in bad.get_json()["error"]
    unknown = sb.post(
        "/_sandbox/calendly/event_types", json={"user": "zed@example.com", "name": "X"}
    )
    assert unknown.status_code == 404
    link = sb.post(
        "/_sandbox/savvycal/links",
        json={"user": "bob@example.com", "name": "New", "durations": [20]},
    ).get_json()
    assert link["booking_url"].endswith(f"/savvycal/book/bob/{link['slug']}")
    changed = sb.patch(f"/_sandbox/savvycal/links/{link['id']}", json={"state": "disabled"})
    assert changed.get_json()["state"] == "disabled"
    assert sb.delete(f"/_sandbox/savvycal/links/{link['id']}").status_code == 204


def test_page_shows_the_people_and_its_forms_change_data(sb):
    page = sb.get("/")
    assert page.status_code == 200
    assert b"CLOSE_API_URL=http://sandbox.test/close/api/v1" in page.data
    assert b"pt_secret_" in page.data and b"Sales Round Robin" in page.data
    uuid = state_of(sb)["calendly"]["event_types"][0]["uri"].rsplit("/", 1)[1]
    answer = sb.post(f"/_sandbox/ui/calendly/event_types/{uuid}", data={"name": "From the page"})
    assert answer.status_code == 303
    names = {e["name"] for e in state_of(sb)["calendly"]["event_types"]}
    assert "From the page" in names
    booking = sb.get("/calendly/book/alice/30min")
    assert booking.status_code == 200
