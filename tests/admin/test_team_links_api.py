"""The team-link routes of the admin API (CONTRACT §3, §6) against a Close fake that applies
Close's permission rule (only users with Manage Customizations create shared links)."""

from __future__ import annotations

import pytest
import responses

from tests.admin.conftest import ADMIN
from tests.conftest import add_account
from tests.sync.fake_shared_links import FakeSharedLinks
from tests.sync.fakes import FakeClose

INTRO = {
    "organization_id": "orga_1",
    "name": "Intro call",
    "calendly_slug": "intro-call",
    "savvycal_slug": "intro-call",
}
MAP_REPS = "worker.tasks.team_links.map_team_link_reps"
DELETE = "worker.tasks.team_links.delete_team_link"


@pytest.fixture
def shared(db):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeSharedLinks(rsps, FakeClose(rsps), admins={"user_admin"})


def test_create_answers_201_with_the_shared_link_and_enqueues_the_mapping(client, shared, enqueued):
    add_account("user_rep")
    add_account("user_admin")

    response = client.post("/admin/team_links", json=INTRO, headers=ADMIN)

    assert response.status_code == 201
    body = response.get_json()
    (shared_id,) = shared.shared
    assert body["close_shared_link_id"] == shared_id
    assert body["template_tag"] == "intro_call"
    assert (body["calendly_slug"], body["savvycal_slug"]) == ("intro-call", "intro-call")
    assert [(m["close_user_id"], m["state"]) for m in body["mappings"]] == [
        ("user_admin", "pending"),
        ("user_rep", "pending"),
    ]
    assert enqueued == [(MAP_REPS, (body["id"],))]
    listed = client.get("/admin/team_links", headers=ADMIN).get_json()["team_links"]
    assert [t["id"] for t in listed] == [body["id"]]


def test_create_with_nobody_permitted_is_409_and_creates_nothing(client, shared, enqueued):
    add_account("user_rep")

    response = client.post("/admin/team_links", json=INTRO, headers=ADMIN)

    assert response.status_code == 409
    assert response.get_json()["error"] == "no_permitted_user"
    assert shared.shared == {} and enqueued == []
    assert client.get("/admin/team_links", headers=ADMIN).get_json() == {"team_links": []}


def test_a_second_team_link_with_the_same_name_is_409_exists(client, shared):
    add_account("user_admin")
    assert client.post("/admin/team_links", json=INTRO, headers=ADMIN).status_code == 201

    response = client.post("/admin/team_links", json=INTRO, headers=ADMIN)

    assert (response.status_code, response.get_json()["error"]) == (409, "exists")
    assert len(shared.shared) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"organization_id": "orga_1", "name": "No slug"},
        {"organization_id": "orga_1", "name": "Null slugs", "calendly_slug": None},
        {"organization_id": "orga_1", "name": "Bad slug", "calendly_slug": "a b"},
        {"name": "No org", "calendly_slug": "x"},
        {**INTRO, "colour": "blue"},
        ["not", "an", "object"],
    ],
)
def test_an_invalid_body_is_400_invalid(client, shared, body):
    response = client.post("/admin/team_links", json=body, headers=ADMIN)

    assert (response.status_code, response.get_json()["error"]) == (400, "invalid")
    assert shared.calls == []


def test_delete_answers_202_and_enqueues_the_deletion(client, shared, enqueued):
    add_account("user_admin")
    team_link_id = client.post("/admin/team_links", json=INTRO, headers=ADMIN).get_json()["id"]
    enqueued.clear()

    response = client.delete(f"/admin/team_links/{team_link_id}", headers=ADMIN)

    assert response.status_code == 202
    assert response.get_json()["state"] == "deleting"
    assert enqueued == [(DELETE, (team_link_id,))]


def test_delete_of_an_unknown_team_link_is_404(client, shared):
    response = client.delete("/admin/team_links/12345", headers=ADMIN)

    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/team_links"),
        ("POST", "/admin/team_links"),
        ("DELETE", "/admin/team_links/1"),
    ],
)
def test_the_team_link_routes_need_the_admin_token(client, method, path):
    response = client.open(path, method=method, json=INTRO)

    assert (response.status_code, response.get_json()["error"]) == (401, "unauthorized")
