"""`--state-file`: a restarted sandbox keeps its people, links and OAuth grants, so the demo's
tokens still work after `make run` is restarted (issue 11, point 6)."""

from __future__ import annotations

import json

from tests.sandbox.flows import bearer, close_tokens, state_of

CLOSE_ME = "/close/api/v1/me/"


def test_a_restarted_sandbox_keeps_its_grants_links_and_edits(make_sandbox_app, tmp_path):
    state_file = tmp_path / "sandbox.json"
    first = make_sandbox_app(SANDBOX_STATE_FILE=str(state_file)).test_client()
    tokens = close_tokens(first)
    first.post("/_sandbox/close/links", json={"user_id": "alice@example.com", "name": "Extra"})
    before = state_of(first)

    again = make_sandbox_app(SANDBOX_STATE_FILE=str(state_file)).test_client()

    assert again.get(CLOSE_ME, headers=bearer(tokens["access_token"])).status_code == 200
    assert state_of(again)["close"]["links"] == before["close"]["links"]
    refreshed = again.post(
        "/close/oauth2/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "sandbox-close-client",
            "client_secret": "sandbox-close-secret",
        },
    )
    assert refreshed.status_code == 200


def test_ids_made_after_a_restart_are_new(make_sandbox_app, tmp_path):
    state_file = tmp_path / "sandbox.json"
    first = make_sandbox_app(SANDBOX_STATE_FILE=str(state_file)).test_client()
    one = first.post("/_sandbox/close/links", json={"user_id": "alice@example.com", "name": "A"})

    again = make_sandbox_app(SANDBOX_STATE_FILE=str(state_file)).test_client()
    two = again.post("/_sandbox/close/links", json={"user_id": "alice@example.com", "name": "B"})

    assert one.get_json()["id"] != two.get_json()["id"]
    assert len({link["id"] for link in state_of(again)["close"]["links"]}) == len(
        state_of(again)["close"]["links"]
    )


def test_without_a_state_file_a_restart_starts_from_the_seed(make_sandbox_app):
    first = make_sandbox_app().test_client()
    first.post("/_sandbox/close/links", json={"user_id": "alice@example.com", "name": "Extra"})

    again = make_sandbox_app().test_client()

    assert "Extra" not in [link["name"] for link in state_of(again)["close"]["links"]]


def test_the_state_file_is_replaced_whole(make_sandbox_app, tmp_path):
    state_file = tmp_path / "sandbox.json"
    client = make_sandbox_app(SANDBOX_STATE_FILE=str(state_file)).test_client()
    client.post("/_sandbox/close/links", json={"user_id": "alice@example.com", "name": "Extra"})

    assert json.loads(state_file.read_text())["format"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["sandbox.json"]  # no temporary left behind


def test_close_has_a_page_for_each_scheduling_link(sb):
    link = sb.post(
        "/_sandbox/close/links", json={"user_id": "alice@example.com", "name": "Extra"}
    ).get_json()

    page = sb.get(f"/close-app/scheduling_link/{link['id']}/")

    assert page.status_code == 200
    assert "Extra" in page.get_data(as_text=True)
    assert sb.get("/close-app/scheduling_link/nope/").status_code == 404
    env = sb.get("/_sandbox/env").get_json()
    assert env["CLOSE_LINK_PAGE_URL"] == "http://sandbox.test/close-app/scheduling_link/{id}/"
