"""The simulated SavvyCal: OAuth with body credentials, personal tokens, /me and cursor paging."""

from __future__ import annotations

from tests.sandbox.flows import SAVVYCAL_CREDS, bearer, savvycal_tokens, state_of

API = "/savvycal/api/v1"
TOKEN = "/savvycal/oauth/token"


def _pat(sb, email: str = "alice@example.com") -> str:
    users = state_of(sb)["savvycal"]["users"]
    return next(u["personal_token"] for u in users if u["email"] == email)


def test_oauth_answers_the_documented_token_shape_and_me_works(sb):
    tokens = savvycal_tokens(sb)
    assert set(tokens) == {"access_token", "refresh_token", "expires_in", "token_type"}
    assert tokens["expires_in"] == 7200 and tokens["token_type"] == "bearer"
    me = sb.get(f"{API}/me", headers=bearer(tokens["access_token"])).get_json()
    assert me["id"].startswith("user_") and me["email"] == "alice@example.com"
    assert set(me) == {
        "id",
        "email",
        "display_name",
        "first_name",
        "last_name",
        "avatar_url",
        "first_day_of_week",
        "time_format",
        "time_zone",
        "plan",
    }


def test_token_endpoint_wants_body_credentials_and_rotates_refresh_tokens(sb):
    tokens = savvycal_tokens(sb)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    basic = sb.post(TOKEN, data=form, auth=tuple(SAVVYCAL_CREDS.values()))
    assert basic.status_code == 401 and basic.get_json()["error"] == "invalid_client"
    assert sb.post(TOKEN, data={**form, **SAVVYCAL_CREDS}).status_code == 200
    reused = sb.post(TOKEN, data={**form, **SAVVYCAL_CREDS})
    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"


def test_personal_token_never_expires_and_a_bad_token_is_plain_text_401(sb):
    pat = _pat(sb)
    assert pat.startswith("pt_secret_")
    sb.post("/_sandbox/tokens/expire", json={"provider": "savvycal"})
    assert sb.get(f"{API}/me", headers=bearer(pat)).status_code == 200
    bad = sb.get(f"{API}/me", headers=bearer("pt_secret_wrong"))
    assert bad.status_code == 401 and bad.mimetype == "text/plain"
    assert bad.data == b"Unauthenticated"


def test_links_include_team_scope_and_a_null_scope_link(sb):
    entries = sb.get(f"{API}/links", headers=bearer(_pat(sb))).get_json()["entries"]
    scopes = [e["scope"] for e in entries]
    assert None in scopes
    assert any(s and s["slug"] == "acme-sales" for s in scopes)
    assert {e["state"] for e in entries} == {"active", "disabled"}
    bob_entries = sb.get(f"{API}/links", headers=bearer(_pat(sb, "bob@example.com"))).get_json()
    assert any(e["scope"] and e["scope"]["slug"] == "acme-sales" for e in bob_entries["entries"])


def test_links_page_forward_and_back_past_100(sb):
    user = sb.post(
        "/_sandbox/seed/scale",
        json={"users": 1, "event_types_per_user": 0, "savvycal_links_per_user": 205},
    ).get_json()
    headers = bearer(user["users"][0]["savvycal_personal_token"])
    first = sb.get(f"{API}/links?limit=100", headers=headers).get_json()
    assert first["metadata"]["before"] is None and first["metadata"]["limit"] == 100
    seen = [e["id"] for e in first["entries"]]
    after = first["metadata"]["after"]
    while after:
        page = sb.get(
            f"{API}/links", query_string={"limit": 100, "after": after}, headers=headers
        ).get_json()
        seen += [e["id"] for e in page["entries"]]
        after = page["metadata"]["after"]
    assert len(seen) == len(set(seen)) == 205
    back = sb.get(
        f"{API}/links",
        query_string={"limit": 100, "before": page["metadata"]["before"]},
        headers=headers,
    ).get_json()
    assert [e["id"] for e in back["entries"]] == seen[100:200]
    default = sb.get(f"{API}/links", headers=headers).get_json()
    assert len(default["entries"]) == 20
    assert sb.get(f"{API}/links?limit=101", headers=headers).status_code == 422


def test_injected_429_carries_retry_after_and_no_other_rate_headers(sb):
    headers = bearer(_pat(sb))
    ok = sb.get(f"{API}/me", headers=headers)
    assert not any(
        h.lower().startswith(("ratelimit", "x-ratelimit")) for h, _ in ok.headers.items()
    )
    sb.post(
        "/_sandbox/faults",
        json={"provider": "savvycal", "error_rate": 1.0, "status": 429, "retry_after": 3},
    )
    limited = sb.get(f"{API}/links", headers=headers)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
