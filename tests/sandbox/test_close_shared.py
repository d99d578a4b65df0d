"""The simulated Close's shared scheduling links: Close's permission rule (Manage
Customizations, or the owner of the user link for a mapping) and its documented statuses."""

from __future__ import annotations

from tests.sandbox.flows import bearer, close_tokens, user_id

API = "/close/api/v1"


def headers_of(sb, email):
    return bearer(close_tokens(sb, email)["access_token"])


def own_link(sb, headers, source_id="calendly:X:u"):
    answer = sb.post(
        f"{API}/scheduling_link/integration/",
        json={"source_id": source_id, "name": "Intro", "url": "https://example.com/intro"},
        headers=headers,
    )
    assert answer.status_code == 200
    return answer.get_json()["id"]


def test_only_a_user_with_manage_customizations_creates_a_shared_link(sb):
    alice, dana = headers_of(sb, "alice@example.com"), headers_of(sb, "dana@example.com")

    refused = sb.post(f"{API}/shared_scheduling_link/", json={"name": "Intro call"}, headers=alice)
    created = sb.post(
        f"{API}/shared_scheduling_link/",
        json={"name": "Intro call", "description": "d"},
        headers=dana,
    )

    assert refused.status_code == 403
    assert created.status_code == 201
    body = created.get_json()
    assert (body["type"], body["template_tag"], body["url"], body["user_id"]) == (
        "SHARED",
        "intro_call",
        None,
        None,
    )
    listed = sb.get(f"{API}/shared_scheduling_link/", headers=alice).get_json()
    assert listed == {"data": [body], "has_more": False}


def test_the_owner_of_a_user_link_maps_it_and_others_may_not(sb):
    alice, bob = headers_of(sb, "alice@example.com"), headers_of(sb, "bob@example.com")
    dana = headers_of(sb, "dana@example.com")
    shared = sb.post(f"{API}/shared_scheduling_link/", json={"name": "Intro"}, headers=dana)
    shared_id, org = shared.get_json()["id"], shared.get_json()["organization_id"]
    alice_id = user_id(sb, "close", "alice@example.com")
    link = own_link(sb, alice)
    body = {
        "organization_id": org,
        "shared_scheduling_link_id": shared_id,
        "user_id": alice_id,
        "user_scheduling_link_id": link,
    }

    assert (
        sb.post(f"{API}/shared_scheduling_link_association/", json=body, headers=bob).status_code
        == 403
    )
    mapped = sb.post(f"{API}/shared_scheduling_link_association/", json=body, headers=alice)
    assert mapped.status_code == 201
    assert mapped.get_json()["user_scheduling_link_id"] == link

    unmap = {k: body[k] for k in ("organization_id", "shared_scheduling_link_id", "user_id")}
    path = f"{API}/shared_scheduling_link_association/unmap/"
    assert sb.post(path, json=unmap, headers=bob).status_code == 403
    assert sb.post(path, json=unmap, headers=alice).status_code == 200
    assert sb.post(path, json=unmap, headers=alice).status_code == 404  # already unmapped


def test_an_admin_maps_for_anyone_and_deletes_with_204(sb):
    alice, dana = headers_of(sb, "alice@example.com"), headers_of(sb, "dana@example.com")
    shared = sb.post(
        f"{API}/shared_scheduling_link/", json={"name": "Intro"}, headers=dana
    ).get_json()
    body = {
        "organization_id": shared["organization_id"],
        "shared_scheduling_link_id": shared["id"],
        "user_id": user_id(sb, "close", "alice@example.com"),
        "user_scheduling_link_id": own_link(sb, alice),
    }
    assert (
        sb.post(f"{API}/shared_scheduling_link_association/", json=body, headers=dana).status_code
        == 201
    )

    path = f"{API}/shared_scheduling_link/{shared['id']}/"
    assert sb.delete(path, headers=alice).status_code == 403
    assert (
        sb.put(path, json={"description": "new"}, headers=dana).get_json()["description"] == "new"
    )
    assert sb.delete(path, headers=dana).status_code == 204
    assert sb.get(path, headers=dana).status_code == 404
    assert sb.delete(path, headers=dana).status_code == 404


def test_the_sandbox_page_shows_each_shared_link_with_its_mappings(sb):
    alice, dana = headers_of(sb, "alice@example.com"), headers_of(sb, "dana@example.com")
    shared = sb.post(
        f"{API}/shared_scheduling_link/", json={"name": "Intro"}, headers=dana
    ).get_json()
    sb.post(
        f"{API}/shared_scheduling_link_association/",
        json={
            "organization_id": shared["organization_id"],
            "shared_scheduling_link_id": shared["id"],
            "user_id": user_id(sb, "close", "alice@example.com"),
            "user_scheduling_link_id": own_link(sb, alice),
        },
        headers=alice,
    )

    page = sb.get("/").get_data(as_text=True)

    assert "<code>intro</code>" in page
    assert "alice@example.com → Intro" in page


def test_the_control_api_grants_the_permission_and_deletes_a_shared_link_by_hand(sb):
    alice = headers_of(sb, "alice@example.com")
    granted = sb.patch(
        "/_sandbox/close/users/alice@example.com", json={"manage_customizations": True}
    )
    assert granted.get_json()["manage_customizations"] is True

    shared = sb.post(
        f"{API}/shared_scheduling_link/", json={"name": "Intro"}, headers=alice
    ).get_json()
    assert [s["id"] for s in sb.get("/_sandbox/state").get_json()["close"]["shared_links"]] == [
        shared["id"]
    ]
    assert sb.delete(f"/_sandbox/close/shared_links/{shared['id']}").status_code == 204
    assert sb.get(f"{API}/shared_scheduling_link/{shared['id']}/", headers=alice).status_code == 404
