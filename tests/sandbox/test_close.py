"""The simulated Close: OAuth with body credentials, rotation, and the scheduling-link API."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import requests

from tests.sandbox.flows import (
    CLOSE_CREDS,
    REDIRECT,
    bearer,
    close_tokens,
    query_of,
    state_of,
    user_id,
)

API = "/close/api/v1"


def test_consent_page_lists_demo_users_and_deny_redirects_with_access_denied(sb):
    params = {
        "client_id": CLOSE_CREDS["client_id"],
        "response_type": "code",
        "redirect_uri": REDIRECT.format(provider="close"),
        "state": "xyz",
    }
    page = sb.get("/close/oauth2/authorize/", query_string=params)
    assert page.status_code == 200
    assert b"alice@example.com" in page.data and b"carol@example.com" in page.data
    denied = sb.post("/close/oauth2/authorize/", data={**params, "decision": "deny"})
    assert denied.status_code == 302
    assert query_of(denied.headers["Location"]) == {"error": "access_denied", "state": "xyz"}


def test_unknown_client_or_response_type_is_a_400_page(sb):
    base = {"redirect_uri": "http://localhost/cb", "response_type": "code", "client_id": "nope"}
    assert sb.get("/close/oauth2/authorize/", query_string=base).status_code == 400
    base.update(client_id=CLOSE_CREDS["client_id"], response_type="token")
    assert sb.get("/close/oauth2/authorize/", query_string=base).status_code == 400


def test_code_exchange_answers_the_documented_token_shape(sb):
    tokens = close_tokens(sb)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "all.full_access offline_access"
    assert tokens["user_id"] == user_id(sb, "close", "alice@example.com")
    assert tokens["organization_id"].startswith("orga_")
    me = sb.get(f"{API}/me/", headers=bearer(tokens["access_token"])).get_json()
    assert me["email"] == "alice@example.com"
    assert me["organizations"][0]["id"] == tokens["organization_id"]


def test_code_is_single_use_and_bound_to_its_redirect_uri(sb):
    redirect = REDIRECT.format(provider="close")
    params = {
        "client_id": CLOSE_CREDS["client_id"],
        "response_type": "code",
        "redirect_uri": redirect,
        "user_id": user_id(sb, "close", "bob@example.com"),
        "decision": "allow",
    }
    code = query_of(sb.post("/close/oauth2/authorize/", data=params).headers["Location"])["code"]
    form = {**CLOSE_CREDS, "grant_type": "authorization_code", "code": code}
    wrong = sb.post("/close/oauth2/token/", data={**form, "redirect_uri": "http://evil/cb"})
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_grant"
    code = query_of(sb.post("/close/oauth2/authorize/", data=params).headers["Location"])["code"]
    form["code"] = code
    assert (
        sb.post("/close/oauth2/token/", data={**form, "redirect_uri": redirect}).status_code == 200
    )
    again = sb.post("/close/oauth2/token/", data={**form, "redirect_uri": redirect})
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"


def test_token_endpoint_wants_body_credentials_not_basic(sb):
    tokens = close_tokens(sb)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    basic = sb.post("/close/oauth2/token/", data=form, auth=tuple(CLOSE_CREDS.values()))
    assert basic.status_code == 401 and basic.get_json()["error"] == "invalid_client"
    wrong = sb.post("/close/oauth2/token/", data={**form, **CLOSE_CREDS, "client_secret": "x"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    as_json = sb.post("/close/oauth2/token/", json={**form, **CLOSE_CREDS})
    assert as_json.status_code == 400


def test_refresh_rotates_and_a_reused_refresh_token_is_invalid_grant(sb):
    tokens = close_tokens(sb)
    form = {**CLOSE_CREDS, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    first = sb.post("/close/oauth2/token/", data=form)
    assert first.status_code == 200
    assert first.get_json()["refresh_token"] != tokens["refresh_token"]
    reused = sb.post("/close/oauth2/token/", data=form)
    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"
    newest = {**form, "refresh_token": first.get_json()["refresh_token"]}
    assert sb.post("/close/oauth2/token/", data=newest).status_code == 200


def test_revoke_and_expiry_make_the_api_answer_401(sb):
    tokens = close_tokens(sb)
    headers = bearer(tokens["access_token"])
    assert sb.get(f"{API}/me/", headers=headers).status_code == 200
    sb.post("/_sandbox/tokens/expire", json={"provider": "close", "user": "alice@example.com"})
    expired = sb.get(f"{API}/me/", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.get_json()["error"]
    fresh = sb.post(
        "/close/oauth2/token/",
        data={
            **CLOSE_CREDS,
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
        },
    ).get_json()
    assert (
        sb.post(
            "/close/oauth2/revoke/", data={**CLOSE_CREDS, "token": fresh["access_token"]}
        ).status_code
        == 200
    )
    revoked = sb.get(f"{API}/me/", headers=bearer(fresh["access_token"]))
    assert revoked.status_code == 401 and "revoked" in revoked.get_json()["error"]
    assert sb.get(f"{API}/me/").status_code == 401


def test_seeded_calendly_source_link_has_the_url_of_a_calendly_event_type(sb):
    tokens = close_tokens(sb)
    links = sb.get(f"{API}/scheduling_link/", headers=bearer(tokens["access_token"])).get_json()
    assert links["has_more"] is False
    sources = {link["source"] for link in links["data"]}
    assert {"MANUAL", "CALENDLY", "THIRD_PARTY"} <= sources
    calendly_link = next(link for link in links["data"] if link["source"] == "CALENDLY")
    urls = {e["scheduling_url"] for e in state_of(sb)["calendly"]["event_types"]}
    assert calendly_link["url"] in urls
    assert set(calendly_link) == {
        "description",
        "duration_in_minutes",
        "id",
        "name",
        "oauth_client_id",
        "organization_id",
        "source",
        "source_id",
        "source_type",
        "template_tag",
        "type",
        "url",
        "user_id",
    }


def test_integration_upsert_creates_then_updates_by_source_id(sb):
    headers = bearer(close_tokens(sb)["access_token"])
    body = {
        "source_id": "calendly:ABC:user_x",
        "name": "Intro",
        "url": "https://x.test/intro",
        "duration_in_minutes": 30,
        "source_type": "Calendly · Solo",
    }
    created = sb.post(f"{API}/scheduling_link/integration/", json=body, headers=headers)
    assert created.status_code == 200
    link = created.get_json()
    assert link["source"] == "THIRD_PARTY" and link["oauth_client_id"] == "oa2client_sandbox"
    assert link["description"] is None and link["type"] == "USER"
    updated = sb.post(
        f"{API}/scheduling_link/integration/",
        headers=headers,
        json={**body, "name": "Intro call", "description": "Hi"},
    ).get_json()
    assert updated["id"] == link["id"]
    assert (updated["name"], updated["description"], updated["duration_in_minutes"]) == (
        "Intro call",
        "Hi",
        30,
    )
    deleted = sb.delete(
        f"{API}/scheduling_link/integration/{quote(body['source_id'], safe='')}/", headers=headers
    )
    assert deleted.status_code == 204
    again = sb.delete(
        f"{API}/scheduling_link/integration/{quote(body['source_id'])}/", headers=headers
    )
    assert again.status_code == 404 and "error" in again.get_json()


def test_integration_upsert_validates_like_close(sb):
    headers = bearer(close_tokens(sb)["access_token"])
    missing = sb.post(f"{API}/scheduling_link/integration/", json={"name": "x"}, headers=headers)
    assert missing.status_code == 400
    assert set(missing.get_json()["field-errors"]) == {"source_id", "url"}
    assert missing.get_json()["errors"] == []
    form = sb.post(f"{API}/scheduling_link/integration/", data={"a": "b"}, headers=headers)
    assert form.status_code == 415


def test_link_list_pages_with_skip_and_limit_past_100(sb):
    headers = bearer(close_tokens(sb, "carol@example.com")["access_token"])
    for n in range(130):
        sb.post(
            f"{API}/scheduling_link/integration/",
            headers=headers,
            json={"source_id": f"s{n}", "name": f"L{n}", "url": f"https://x.test/{n}"},
        )
    seen, skip = [], 0
    while True:
        page = sb.get(
            f"{API}/scheduling_link/", query_string={"_skip": skip, "_limit": 100}, headers=headers
        ).get_json()
        seen += [link["id"] for link in page["data"]]
        skip += 100
        if not page["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 130
    too_big = sb.get(f"{API}/scheduling_link/?_limit=101", headers=headers)
    assert too_big.status_code == 400


def test_rate_limit_answers_429_with_ratelimit_and_retry_after(sb):
    sb.post("/_sandbox/ratelimits", json={"provider": "close", "limit": 3, "window_seconds": 30})
    headers = bearer(close_tokens(sb)["access_token"])
    answers = [sb.get(f"{API}/me/", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit"].startswith("limit=3, remaining=2, reset=")
    limited = answers[3]
    assert limited.headers["RateLimit"].startswith("limit=3, remaining=0, reset=")
    reset = float(limited.headers["RateLimit"].rsplit("reset=", 1)[1])
    assert 29 < reset <= 30 and limited.headers["Retry-After"] == "30"
    # Another endpoint group has its own window.
    assert sb.get(f"{API}/scheduling_link/", headers=headers).status_code == 200
    seen = sb.get("/_sandbox/requests").get_json()
    assert seen["rate_limited"] == 1
    assert sb.get(f"{API}/me/", headers=headers).status_code == 429
    early = sb.get("/_sandbox/requests").get_json()["early_requests"]
    assert [e["endpoint"] for e in early] == ["GET /close/api/v1/me/"]


def test_concurrent_refreshes_with_one_token_let_exactly_one_through(sb, live_sandbox):
    tokens = close_tokens(sb)
    form = {**CLOSE_CREDS, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    def refresh(_: int) -> int:
        return requests.post(
            f"{live_sandbox}/close/oauth2/token/", data=form, timeout=5
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(refresh, range(8)))
    assert sorted(statuses) == [200] + [400] * 7
