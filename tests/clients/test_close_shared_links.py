"""The shared-link calls go exactly where reference/close-api.md §1.5 says, with the bodies it
shows, and read Close's recorded answers; 403 and 404 become the typed answers callers need."""

from __future__ import annotations

import pytest

from tests.clients.recorded import query, recorded, sent_json
from tests.conftest import CLOSE_API
from worker.providers.close.shared_links import SharedLinks
from worker.providers.errors import Forbidden, NotFound, Unavailable

ORG = "orga_RbREgmiiwcr1w2b4cOnCMQaQPSIFxMqAD2Dh243uxcH"
SHARED = "schlnk_3knjle4iOiymsYjiJHZraq"
USER = "user_N6KhMpzHRCYQHdn4gRNIFNN5JExnsrprKA6ekxM63XA"
USER_LINK = "schlnk_2xfNHpU6cjThMuhioZ3GjX"


@pytest.fixture
def shared(close) -> SharedLinks:
    return SharedLinks(close)


def test_create_posts_name_and_description_as_json_and_reads_the_201(http, shared):
    http.post(
        f"{CLOSE_API}/shared_scheduling_link/", json=recorded("close", "shared_link"), status=201
    )

    link = shared.create("Name", "Description")

    (call,) = http.calls
    assert call.request.url == f"{CLOSE_API}/shared_scheduling_link/"
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["Authorization"] == "Bearer access-token-1"
    assert sent_json(call) == {"name": "Name", "description": "Description"}
    assert link["id"] == SHARED
    assert link["template_tag"] == "name"
    assert link["type"] == "SHARED"


def test_create_by_a_user_without_manage_customizations_is_forbidden(http, shared):
    http.post(f"{CLOSE_API}/shared_scheduling_link/", json={"error": "Forbidden"}, status=403)

    with pytest.raises(Forbidden):
        shared.create("Name")


def test_create_is_not_repeated_after_a_gateway_error(http, shared):
    # A second POST could make a second shared link under a second template tag.
    http.post(f"{CLOSE_API}/shared_scheduling_link/", status=502)

    with pytest.raises(Unavailable):
        shared.create("Name")
    assert len(http.calls) == 1


def test_list_reads_every_page_with_skip_and_limit(http, shared):
    first = recorded("close", "shared_links")
    first["has_more"] = True
    second = recorded("close", "shared_links")
    second["data"][0]["id"] = "schlnk_second"
    http.get(f"{CLOSE_API}/shared_scheduling_link/", json=first)
    http.get(f"{CLOSE_API}/shared_scheduling_link/", json=second)

    links = shared.list()

    assert [link["id"] for link in links] == [SHARED, "schlnk_second"]
    assert [query(call.request) for call in http.calls] == [
        {"_skip": "0", "_limit": "100"},
        {"_skip": "1", "_limit": "100"},
    ]
    assert all(c.request.url.split("?")[0].endswith("/shared_scheduling_link/") for c in http.calls)


def test_get_answers_none_for_a_shared_link_close_no_longer_has(http, shared):
    http.get(f"{CLOSE_API}/shared_scheduling_link/{SHARED}/", json=recorded("close", "shared_link"))
    http.get(f"{CLOSE_API}/shared_scheduling_link/schlnk_gone/", json={"error": "x"}, status=404)

    assert shared.get(SHARED)["template_tag"] == "name"
    assert shared.get("schlnk_gone") is None


def test_update_puts_only_the_given_fields(http, shared):
    answer = recorded("close", "shared_link") | {"description": "New"}
    http.put(f"{CLOSE_API}/shared_scheduling_link/{SHARED}/", json=answer, status=200)

    link = shared.update(SHARED, description="New")

    (call,) = http.calls
    assert call.request.url == f"{CLOSE_API}/shared_scheduling_link/{SHARED}/"
    assert sent_json(call) == {"description": "New"}
    assert link["description"] == "New"


@pytest.mark.parametrize("status", [200, 204])
def test_delete_accepts_either_documented_success_status(http, shared, status):
    http.delete(f"{CLOSE_API}/shared_scheduling_link/{SHARED}/", status=status)

    assert shared.delete(SHARED) is True
    assert http.calls[0].request.url == f"{CLOSE_API}/shared_scheduling_link/{SHARED}/"


def test_delete_of_a_shared_link_already_gone_answers_false(http, shared):
    http.delete(f"{CLOSE_API}/shared_scheduling_link/{SHARED}/", status=404)

    assert shared.delete(SHARED) is False


def test_delete_by_a_user_without_manage_customizations_is_forbidden(http, shared):
    http.delete(f"{CLOSE_API}/shared_scheduling_link/{SHARED}/", status=403)

    with pytest.raises(Forbidden):
        shared.delete(SHARED)


def test_map_posts_the_user_link_form_of_the_association(http, shared):
    http.post(
        f"{CLOSE_API}/shared_scheduling_link_association/",
        json=recorded("close", "shared_association"),
        status=201,
    )

    answer = shared.map(ORG, SHARED, USER, USER_LINK)

    (call,) = http.calls
    assert call.request.url == f"{CLOSE_API}/shared_scheduling_link_association/"
    assert sent_json(call) == {
        "organization_id": ORG,
        "shared_scheduling_link_id": SHARED,
        "user_id": USER,
        "user_scheduling_link_id": USER_LINK,
    }
    assert answer["user_scheduling_link_id"] == USER_LINK


def test_map_raises_not_found_for_a_missing_link(http, shared):
    http.post(f"{CLOSE_API}/shared_scheduling_link_association/", status=404)

    with pytest.raises(NotFound):
        shared.map(ORG, SHARED, USER, USER_LINK)


def test_unmap_posts_to_the_unmap_path_and_reads_the_200(http, shared):
    http.post(f"{CLOSE_API}/shared_scheduling_link_association/unmap/", json={}, status=200)

    assert shared.unmap(ORG, SHARED, USER) is True

    (call,) = http.calls
    assert call.request.url == f"{CLOSE_API}/shared_scheduling_link_association/unmap/"
    assert sent_json(call) == {
        "organization_id": ORG,
        "shared_scheduling_link_id": SHARED,
        "user_id": USER,
    }


def test_unmap_answered_404_means_already_unmapped(http, shared):
    http.post(f"{CLOSE_API}/shared_scheduling_link_association/unmap/", status=404)

    assert shared.unmap(ORG, SHARED, USER) is False


def test_unmap_by_a_user_who_may_not_is_forbidden(http, shared):
    http.post(f"{CLOSE_API}/shared_scheduling_link_association/unmap/", status=403)

    with pytest.raises(Forbidden):
        shared.unmap(ORG, SHARED, USER)
