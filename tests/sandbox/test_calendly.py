"""The simulated Calendly: PKCE OAuth with HTTP Basic, rotation, limits, users and event types."""

from __future__ import annotations

from tests.sandbox.flows import (
    CALENDLY_BASIC,
    REDIRECT,
    approve,
    bearer,
    calendly_tokens,
    pkce_pair,
    state_of,
    user_id,
)

API = "/calendly/api"
TOKEN = "/calendly/auth/oauth/token"


def _code(sb, challenge: str, email: str = "alice@example.com") -> str:
    params = {
        "client_id": CALENDLY_BASIC[0],
        "response_type": "code",
        "redirect_uri": REDIRECT.format(provider="calendly"),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return approve(sb, "/calendly/auth/oauth/authorize", params, user_id(sb, "calendly", email))[
        "code"
    ]


def test_code_exchange_with_pkce_answers_owner_and_organization(sb):
    tokens = calendly_tokens(sb)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 7200
    assert isinstance(tokens["created_at"], int)
    me = sb.get(f"{API}/users/me", headers=bearer(tokens["access_token"])).get_json()["resource"]
    assert me["uri"] == tokens["owner"] == f"http://sandbox.test{API}/users/{me['uri'][-16:]}"
    assert me["current_organization"] == tokens["organization"]
    assert me["email"] == "alice@example.com"


def test_pkce_is_required_and_a_wrong_verifier_is_invalid_grant(sb):
    no_pkce = {
        "client_id": CALENDLY_BASIC[0],
        "response_type": "code",
        "redirect_uri": REDIRECT.format(provider="calendly"),
    }
    assert sb.get("/calendly/auth/oauth/authorize", query_string=no_pkce).status_code == 400
    plain = {**no_pkce, "code_challenge": "abc", "code_challenge_method": "plain"}
    assert sb.get("/calendly/auth/oauth/authorize", query_string=plain).status_code == 400
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    response = sb.post(
        TOKEN,
        auth=CALENDLY_BASIC,
        data={
            "grant_type": "authorization_code",
            "code": _code(sb, challenge),
            "redirect_uri": REDIRECT.format(provider="calendly"),
            "code_verifier": other_verifier,
        },
    )
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_token_endpoint_rejects_body_only_client_credentials(sb):
    verifier, challenge = pkce_pair()
    form = {
        "grant_type": "authorization_code",
        "code": _code(sb, challenge),
        "redirect_uri": REDIRECT.format(provider="calendly"),
        "code_verifier": verifier,
        "client_id": CALENDLY_BASIC[0],
        "client_secret": CALENDLY_BASIC[1],
    }
    body_only = sb.post(TOKEN, data=form)
    assert body_only.status_code == 401 and body_only.get_json()["error"] == "invalid_client"
    # The code was not spent by the refused call: the right call still works.
    assert sb.post(TOKEN, data=form, auth=CALENDLY_BASIC).status_code == 200


def test_refresh_rotates_and_reuse_is_invalid_grant_with_a_description(sb):
    tokens = calendly_tokens(sb)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert sb.post(TOKEN, data=form, auth=CALENDLY_BASIC).status_code == 200
    reused = sb.post(TOKEN, data=form, auth=CALENDLY_BASIC)
    assert reused.status_code == 400
    assert reused.get_json()["error"] == "invalid_grant"
    assert reused.get_json()["error_description"]


def test_introspect_and_revoke(sb):
    tokens = calendly_tokens(sb)
    creds = {"client_id": CALENDLY_BASIC[0], "client_secret": CALENDLY_BASIC[1]}
    introspect = "/calendly/auth/oauth/introspect"
    active = sb.post(introspect, data={**creds, "token": tokens["refresh_token"]}).get_json()
    assert active["active"] is True and active["owner"] == tokens["owner"]
    sb.post(
        TOKEN,
        auth=CALENDLY_BASIC,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    spent = sb.post(introspect, data={**creds, "token": tokens["refresh_token"]}).get_json()
    assert spent == {"active": False}
    revoked = sb.post(
        "/calendly/auth/oauth/revoke", data={**creds, "token": tokens["access_token"]}
    )
    assert revoked.status_code == 200 and revoked.get_json() == {}
    answer = sb.get(f"{API}/users/me", headers=bearer(tokens["access_token"]))
    assert answer.status_code == 401 and answer.get_json()["title"] == "Unauthenticated"


def test_ninth_token_for_a_user_within_a_minute_is_429(sb):
    tokens = calendly_tokens(sb)  # 1
    refresh = tokens["refresh_token"]
    for _ in range(7):  # 2..8
        answer = sb.post(
            TOKEN,
            auth=CALENDLY_BASIC,
            data={"grant_type": "refresh_token", "refresh_token": refresh},
        )
        assert answer.status_code == 200
        refresh = answer.get_json()["refresh_token"]
    ninth = sb.post(
        TOKEN, auth=CALENDLY_BASIC, data={"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert ninth.status_code == 429 and "X-RateLimit-Reset" in ninth.headers
    # A refused refresh did not spend the refresh token.
    introspect = sb.post(
        "/calendly/auth/oauth/introspect",
        data={"client_id": CALENDLY_BASIC[0], "client_secret": CALENDLY_BASIC[1], "token": refresh},
    )
    assert introspect.get_json()["active"] is True


def test_event_types_list_hides_deleted_and_includes_shared_team_types(sb):
    alice = calendly_tokens(sb)
    bob = calendly_tokens(sb, "bob@example.com")
    alice_types = sb.get(
        f"{API}/event_types",
        query_string={"user": alice["owner"]},
        headers=bearer(alice["access_token"]),
    ).get_json()["collection"]
    bob_types = sb.get(
        f"{API}/event_types",
        query_string={"user": bob["owner"], "count": 100},
        headers=bearer(bob["access_token"]),
    ).get_json()["collection"]
    shared = {e["uri"] for e in alice_types} & {e["uri"] for e in bob_types}
    assert len(shared) == 1
    round_robin = next(e for e in alice_types if e["uri"] in shared)
    assert round_robin["pooling_type"] == "round_robin"
    assert round_robin["profile"]["type"] == "Team"
    kinds = {(e["type"], e["active"], e["secret"]) for e in alice_types}
    assert ("AdhocEventType", True, False) in kinds and ("StandardEventType", False, False) in kinds
    assert ("StandardEventType", True, True) in kinds
    everything = state_of(sb)["calendly"]["event_types"]
    deleted = next(e for e in everything if e["deleted_at"])
    carol = calendly_tokens(sb, "carol@example.com")
    carol_types = sb.get(
        f"{API}/event_types",
        query_string={"user": carol["owner"]},
        headers=bearer(carol["access_token"]),
    ).get_json()["collection"]
    assert deleted["uri"] not in {e["uri"] for e in carol_types}
    one = sb.get(
        deleted["uri"].replace("http://sandbox.test", ""), headers=bearer(carol["access_token"])
    )
    assert one.status_code == 200 and one.get_json()["resource"]["deleted_at"]
    unknown = sb.get(f"{API}/event_types/NOPE", headers=bearer(carol["access_token"]))
    assert unknown.status_code == 404 and unknown.get_json()["title"] == "Resource Not Found"


def test_event_type_pagination_walks_past_100_with_page_tokens(sb):
    user = sb.post(
        "/_sandbox/seed/scale",
        json={"users": 1, "event_types_per_user": 230, "savvycal_links_per_user": 0},
    ).get_json()
    tokens = calendly_tokens(sb, user["users"][0]["email"])
    headers = bearer(tokens["access_token"])
    params = {"user": tokens["owner"], "count": 100}
    seen, pages = [], 0
    while True:
        answer = sb.get(f"{API}/event_types", query_string=params, headers=headers).get_json()
        pages += 1
        seen += [e["uri"] for e in answer["collection"]]
        token = answer["pagination"]["next_page_token"]
        if token is None:
            break
        assert answer["pagination"]["next_page"].startswith("http://sandbox.test/calendly/api/")
        params["page_token"] = token
    assert pages == 3 and len(set(seen)) == 230
    back = sb.get(
        f"{API}/event_types",
        headers=headers,
        query_string={**params, "page_token": answer["pagination"]["previous_page_token"]},
    ).get_json()
    assert [e["uri"] for e in back["collection"]] == seen[100:200]
    too_many = sb.get(f"{API}/event_types", query_string={**params, "count": 101}, headers=headers)
    assert too_many.status_code == 400
    assert too_many.get_json()["title"] == "Invalid Argument"
    assert too_many.get_json()["details"][0]["parameter"] == "count"


def test_api_rate_limit_headers_and_429(sb):
    sb.post("/_sandbox/ratelimits", json={"provider": "calendly", "limit": 2, "window_seconds": 60})
    headers = bearer(calendly_tokens(sb)["access_token"])
    first = sb.get(f"{API}/users/me", headers=headers)
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert 0 < int(first.headers["X-RateLimit-Reset"]) <= 60
    sb.get(f"{API}/users/me", headers=headers)
    limited = sb.get(f"{API}/event_types?organization=x", headers=headers)
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.get_json()["title"] == "Too Many Requests"
