"""Listings past one page on all three providers, and the guards against servers whose paging
would loop or repeat (reference/close-api.md §1.4, calendly-api.md §3.2, savvycal-api.md §2.1)."""

from __future__ import annotations

import json

import pytest
import responses

from tests.clients.recorded import (
    calendly_event_types,
    close_links,
    query,
    recorded,
    savvycal_links,
)
from tests.conftest import CALENDLY_API, CLOSE_API, SAVVYCAL_API
from worker.providers.close.client import IncompleteListing
from worker.providers.errors import BadResponse

CALL_BUDGET = 10  # far more pages than any of these tests needs; a loop hits it at once


def json_answer(body, status: int = 200):
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def guarded(callback):
    """A `responses` callback that fails the test instead of answering a looping client forever."""
    calls = []

    def answer(request):
        calls.append(request)
        if len(calls) > CALL_BUDGET:
            raise AssertionError(f"client kept paging: {len(calls)} requests")
        return callback(request)

    return answer


# --- Close: _skip/_limit and has_more -------------------------------------------------------


def close_server(links: list[dict], *, honour_skip: bool = True):
    def page(request):
        q = query(request)
        skip = int(q["_skip"]) if honour_skip else 0
        limit = int(q["_limit"])
        chunk = links[skip : skip + limit]
        return json_answer({"data": chunk, "has_more": skip + limit < len(links)})

    return guarded(page)


def test_close_links_are_read_in_three_pages_of_100_until_has_more_is_false(http, close):
    links = close_links(250)
    http.add_callback(responses.GET, f"{CLOSE_API}/scheduling_link/", callback=close_server(links))

    got = close.scheduling_links()

    assert [link["id"] for link in got] == [link["id"] for link in links]
    assert len(http.calls) == 3
    for call, skip in zip(http.calls, (0, 100, 200), strict=True):
        assert call.request.method == "GET"
        assert call.request.url.startswith(f"{CLOSE_API}/scheduling_link/?")
        assert query(call.request) == {"_skip": str(skip), "_limit": "100"}
        assert call.request.headers["Authorization"] == "Bearer access-token-1"


def test_close_listing_that_ignores_skip_fails_loudly_with_what_it_read(http, close):
    links = close_links(250)
    http.add_callback(
        responses.GET,
        f"{CLOSE_API}/scheduling_link/",
        callback=close_server(links, honour_skip=False),
    )

    with pytest.raises(IncompleteListing) as raised:
        close.scheduling_links()

    ids = [link["id"] for link in raised.value.links]
    assert ids == [link["id"] for link in links[:100]]
    assert len(set(ids)) == len(ids)
    assert len(http.calls) == 2  # the repeated page is recognised at once
    assert "ignored _skip" in str(raised.value)


def test_close_listing_asks_again_without_limit_then_without_paging_when_refused(http, close):
    links = close_links(3)
    asked = []

    def strict(request):
        q = query(request)
        asked.append(q)
        if "_limit" in q or "_skip" in q:
            return (400, {}, json.dumps({"error": "Unknown field: _limit"}))
        return (200, {}, json.dumps({"data": links, "has_more": False}))

    http.add_callback(responses.GET, f"{CLOSE_API}/scheduling_link/", callback=strict)

    assert [link["id"] for link in close.scheduling_links()] == [link["id"] for link in links]
    assert asked == [{"_skip": "0", "_limit": "100"}, {"_skip": "0"}, {}]


def test_a_close_listing_longer_than_one_unpaged_page_is_incomplete(http, close):
    links = close_links(3)

    def no_paging(request):
        if query(request):
            return (400, {}, json.dumps({"error": "bad request"}))
        return (200, {}, json.dumps({"data": links, "has_more": True}))

    http.add_callback(responses.GET, f"{CLOSE_API}/scheduling_link/", callback=no_paging)

    with pytest.raises(IncompleteListing):
        close.scheduling_links()


def test_close_listing_skips_a_link_that_shifted_into_the_next_page(http, close):
    links = close_links(150)
    served = []

    def page(request):
        q = query(request)
        skip = int(q["_skip"])
        if served:  # a link was added at the front between the two pages: everything shifts
            shifted = [close_links(151)[150] | {"id": "schlnk_new"}, *links]
            chunk = shifted[skip : skip + 100]
        else:
            chunk = links[skip : skip + 100]
        served.append(skip)
        return json_answer({"data": chunk, "has_more": skip + 100 < 150})

    http.add_callback(responses.GET, f"{CLOSE_API}/scheduling_link/", callback=guarded(page))

    ids = [link["id"] for link in close.scheduling_links()]

    assert len(ids) == len(set(ids)) == 150
    assert ids == [link["id"] for link in links]


def test_close_page_without_has_more_is_a_bad_response(http, close):
    http.get(f"{CLOSE_API}/scheduling_link/", json={"data": close_links(3)})

    with pytest.raises(BadResponse):
        close.scheduling_links()


def test_close_recorded_listing_reads_every_kind_of_link(http, close):
    http.get(f"{CLOSE_API}/scheduling_link/", json=recorded("close", "scheduling_links"))

    got = close.scheduling_links()

    assert [link["source"] for link in got] == ["MANUAL", "THIRD_PARTY", "CALENDLY"]
    assert got[1]["oauth_client_id"] == "oa2client_5NvOjgHYKHkbBjv5Rmiyfp"
    assert got[2]["duration_in_minutes"] == 30
    assert len(http.calls) == 1


# --- Calendly: count=100 and pagination.next_page_token --------------------------------------


USER_URI = "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"


def calendly_server(items: list[dict], *, tokens=("tok-page-2", "tok-page-3")):
    """Pages of 100; page n (1-based) is asked for with tokens[n-2]."""
    pages = [items[i : i + 100] for i in range(0, len(items), 100)]

    def page(request):
        q = query(request)
        index = 0 if "page_token" not in q else tokens.index(q["page_token"]) + 1
        next_token = tokens[index] if index + 1 < len(pages) else None
        return json_answer(
            {
                "collection": pages[index],
                "pagination": {
                    "count": len(pages[index]),
                    "next_page": None,
                    "previous_page": None,
                    "next_page_token": next_token,
                    "previous_page_token": None,
                },
            }
        )

    return guarded(page)


def test_calendly_event_types_follow_the_page_token_until_it_is_null(http, calendly):
    items = calendly_event_types(250)
    http.add_callback(responses.GET, f"{CALENDLY_API}/event_types", callback=calendly_server(items))

    got = calendly.event_types(USER_URI)

    assert [item["uri"] for item in got] == [item["uri"] for item in items]
    assert len(http.calls) == 3
    expected = [
        {"user": USER_URI, "count": "100"},
        {"user": USER_URI, "count": "100", "page_token": "tok-page-2"},
        {"user": USER_URI, "count": "100", "page_token": "tok-page-3"},
    ]
    for call, params in zip(http.calls, expected, strict=True):
        assert call.request.method == "GET"
        assert query(call.request) == params
        assert call.request.headers["Authorization"] == "Bearer access-token-1"


def test_calendly_repeated_page_token_is_a_bad_response(http, calendly):
    items = calendly_event_types(250)
    http.add_callback(
        responses.GET,
        f"{CALENDLY_API}/event_types",
        callback=calendly_server(items, tokens=("tok-same", "tok-same")),
    )

    with pytest.raises(BadResponse):
        calendly.event_types(USER_URI)
    assert len(http.calls) <= 3


def test_calendly_page_without_pagination_is_a_bad_response(http, calendly):
    http.get(f"{CALENDLY_API}/event_types", json={"collection": calendly_event_types(2)})

    with pytest.raises(BadResponse):
        calendly.event_types(USER_URI)


@pytest.mark.parametrize("token", [{"cursor": "x"}, ["x"], 7, True])
def test_calendly_page_token_that_is_not_a_string_is_a_bad_response(http, calendly, token):
    body = recorded("calendly", "event_types")
    body["pagination"]["next_page_token"] = token
    http.add_callback(
        responses.GET, f"{CALENDLY_API}/event_types", callback=guarded(lambda r: json_answer(body))
    )

    with pytest.raises(BadResponse):
        calendly.event_types(USER_URI)


def test_calendly_webhook_listing_follows_page_tokens(http, calendly):
    first = {
        "collection": [recorded("calendly", "webhook_subscription")["resource"]],
        "pagination": {"next_page_token": "tok-2"},
    }
    second = {
        "collection": [recorded("calendly", "webhook_subscription")["resource"]],
        "pagination": {"next_page_token": None},
    }
    second["collection"][0]["uri"] += "-2"

    def page(request):
        return json_answer(second if "page_token" in query(request) else first)

    http.add_callback(
        responses.GET, f"{CALENDLY_API}/webhook_subscriptions", callback=guarded(page)
    )

    got = calendly.webhooks(organization="org-uri", user=USER_URI)

    assert len(got) == 2 and len(http.calls) == 2
    base = {"organization": "org-uri", "user": USER_URI, "scope": "user", "count": "100"}
    assert query(http.calls[0].request) == base
    assert query(http.calls[1].request) == base | {"page_token": "tok-2"}


def test_calendly_webhook_listing_with_a_repeated_page_token_is_a_bad_response(http, calendly):
    body = {
        "collection": [recorded("calendly", "webhook_subscription")["resource"]],
        "pagination": {"next_page_token": "tok-forever"},
    }
    http.add_callback(
        responses.GET,
        f"{CALENDLY_API}/webhook_subscriptions",
        callback=guarded(lambda r: json_answer(body)),
    )

    with pytest.raises(BadResponse):
        calendly.webhooks(organization="org-uri", user=USER_URI)


# --- SavvyCal: limit=100 and metadata.after --------------------------------------------------


def savvycal_server(items: list[dict], *, cursors=("g3QAAAAB-2", "g3QAAAAB-3")):
    pages = [items[i : i + 100] for i in range(0, len(items), 100)]

    def page(request):
        q = query(request)
        index = 0 if "after" not in q else cursors.index(q["after"]) + 1
        after = cursors[index] if index + 1 < len(pages) else None
        return json_answer(
            {"entries": pages[index], "metadata": {"before": None, "after": after, "limit": 100}}
        )

    return guarded(page)


def test_savvycal_links_follow_metadata_after_until_it_is_null(http, savvycal):
    items = savvycal_links(250)
    http.add_callback(responses.GET, f"{SAVVYCAL_API}/links", callback=savvycal_server(items))

    got = savvycal.links()

    assert [item["id"] for item in got] == [item["id"] for item in items]
    assert len(http.calls) == 3
    expected = [
        {"limit": "100"},
        {"limit": "100", "after": "g3QAAAAB-2"},
        {"limit": "100", "after": "g3QAAAAB-3"},
    ]
    for call, params in zip(http.calls, expected, strict=True):
        assert call.request.method == "GET"
        assert query(call.request) == params
        assert call.request.headers["Authorization"] == "Bearer access-token-1"


def test_savvycal_repeated_cursor_is_a_bad_response(http, savvycal):
    items = savvycal_links(250)
    http.add_callback(
        responses.GET,
        f"{SAVVYCAL_API}/links",
        callback=savvycal_server(items, cursors=("same", "same")),
    )

    with pytest.raises(BadResponse):
        savvycal.links()


@pytest.mark.parametrize("cursor", [{"id": 1}, ["x"], 5])
def test_savvycal_cursor_that_is_not_a_string_is_a_bad_response(http, savvycal, cursor):
    body = recorded("savvycal", "links")
    body["metadata"]["after"] = cursor
    http.add_callback(
        responses.GET, f"{SAVVYCAL_API}/links", callback=guarded(lambda r: json_answer(body))
    )

    with pytest.raises(BadResponse):
        savvycal.links()
