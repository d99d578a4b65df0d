"""Provider failures become typed errors (worker/providers/errors.py), whatever the answer looks
like, and
their messages carry no secrets."""

from __future__ import annotations

import logging

import pytest

from tests.clients.recorded import recorded
from tests.conftest import CALENDLY_API, CLOSE_API, SAVVYCAL_API
from worker.providers.errors import BadResponse, Conflict, Forbidden, NotFound, ProviderError
from worker.sync.links import DesiredLink

USER_URI = "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"
SIGNING_KEY = "per-subscription-signing-key-value"


@pytest.mark.parametrize(("status", "error"), [(403, Forbidden), (404, NotFound), (409, Conflict)])
@pytest.mark.parametrize("kind", ["close", "calendly", "savvycal"])
def test_error_statuses_become_their_own_types(http, make_client, kind, status, error):
    url, call = {
        "close": (f"{CLOSE_API}/me/", lambda c: c.me()),
        "calendly": (f"{CALENDLY_API}/users/me", lambda c: c.me()),
        "savvycal": (f"{SAVVYCAL_API}/me", lambda c: c.me()),
    }[kind]
    http.get(url, status=status, json={"title": "Nope", "message": "Not for you"})

    with pytest.raises(ProviderError) as raised:
        call(make_client(kind))

    assert type(raised.value) is error
    assert raised.value.status == status
    assert raised.value.provider == kind
    assert len(http.calls) == 1


def test_a_calendly_409_on_webhook_creation_is_a_conflict(http, calendly):
    http.post(
        f"{CALENDLY_API}/webhook_subscriptions",
        status=409,
        json={"title": "Already Exists", "message": "Hook with this url already exists"},
    )

    with pytest.raises(Conflict):
        calendly.create_webhook(
            url="https://x.test/webhooks/calendly/h", organization="o", user="u", signing_key="k"
        )


def test_a_400_is_a_provider_error_describing_the_problem_without_secrets(http, calendly, caplog):
    caplog.set_level(logging.DEBUG)
    http.post(
        f"{CALENDLY_API}/webhook_subscriptions",
        status=400,
        json={
            "title": "Invalid Argument",
            "message": "The supplied parameters are invalid.",
            "details": [{"parameter": "signing_key", "message": f"bad key {SIGNING_KEY}"}],
            "signing_key": SIGNING_KEY,
        },
    )

    with pytest.raises(ProviderError) as raised:
        calendly.create_webhook(
            url="https://x.test/webhooks/calendly/h",
            organization="o",
            user="u",
            signing_key=SIGNING_KEY,
        )

    message = str(raised.value)
    assert type(raised.value) is ProviderError
    assert raised.value.status == 400
    assert "400" in message and "Invalid Argument" in message
    for secret in (SIGNING_KEY, "access-token-1"):
        assert secret not in message
        assert secret not in caplog.text


def test_a_close_400_names_the_field_errors(http, close):
    http.post(
        f"{CLOSE_API}/scheduling_link/integration/",
        status=400,
        json={"errors": [], "field-errors": {"url": "Enter a valid URL."}},
    )
    link = DesiredLink("savvycal", "l", "savvycal:l:u", "Chat", "nope", None, None, "SavvyCal")

    with pytest.raises(ProviderError) as raised:
        close.upsert_link(link.payload())

    assert type(raised.value) is ProviderError
    assert "Enter a valid URL." in str(raised.value)
    assert "access-token-1" not in str(raised.value)


# --- answers that cannot be read: always BadResponse -----------------------------------------


def event_type_without(field: str) -> dict:
    body = recorded("calendly", "event_types")
    del body["collection"][0][field]
    return body


def event_types_with(**fields) -> dict:
    body = recorded("calendly", "event_types")
    body["collection"][0].update(fields)
    return body


def close_links_with(**fields) -> dict:
    body = recorded("close", "scheduling_links")
    body["data"][1].update(fields)
    return body


def close_link_without(field: str) -> dict:
    body = recorded("close", "scheduling_links")
    del body["data"][1][field]
    return body


def savvycal_links_with(**fields) -> dict:
    body = recorded("savvycal", "links")
    body["entries"][0].update(fields)
    return body


CLOSE_LIST = (f"{CLOSE_API}/scheduling_link/", lambda c: c.scheduling_links())
CALENDLY_LIST = (f"{CALENDLY_API}/event_types", lambda c: c.event_types(USER_URI))
SAVVYCAL_LIST = (f"{SAVVYCAL_API}/links", lambda c: c.links())
CALENDLY_ONE = (f"{CALENDLY_API}/event_types/AAAA", lambda c: c.event_type("AAAA"))
CALENDLY_ME = (f"{CALENDLY_API}/users/me", lambda c: c.me())
SAVVYCAL_ME = (f"{SAVVYCAL_API}/me", lambda c: c.me())
CLOSE_ME = (f"{CLOSE_API}/me/", lambda c: c.me())

UNREADABLE = [
    # (client kind, (url, call), body as sent: a str is sent verbatim, anything else as JSON)
    pytest.param("close", CLOSE_LIST, "<html>Bad gateway</html>", id="close-not-json"),
    pytest.param("close", CLOSE_LIST, "", id="close-empty-body"),
    pytest.param("close", CLOSE_LIST, [], id="close-array-not-object"),
    pytest.param("close", CLOSE_LIST, {"data": {}, "has_more": False}, id="close-data-not-list"),
    pytest.param("close", CLOSE_LIST, close_link_without("source"), id="close-link-no-source"),
    pytest.param("close", CLOSE_LIST, close_link_without("id"), id="close-link-no-id"),
    pytest.param(
        "close", CLOSE_LIST, close_links_with(duration_in_minutes="thirty"), id="close-duration"
    ),
    pytest.param("close", CLOSE_ME, ["user_1"], id="close-me-array"),
    pytest.param("calendly", CALENDLY_LIST, "not json {", id="calendly-not-json"),
    pytest.param("calendly", CALENDLY_LIST, [{"uri": "x"}], id="calendly-array"),
    pytest.param("calendly", CALENDLY_LIST, event_type_without("active"), id="calendly-no-active"),
    pytest.param("calendly", CALENDLY_LIST, event_type_without("uri"), id="calendly-no-uri"),
    pytest.param(
        "calendly", CALENDLY_LIST, event_types_with(duration="thirty"), id="calendly-duration"
    ),
    pytest.param(
        "calendly", CALENDLY_LIST, event_types_with(active="maybe"), id="calendly-active-type"
    ),
    pytest.param(
        "calendly",
        CALENDLY_LIST,
        {"collection": None, "pagination": {"next_page_token": None}},
        id="calendly-collection-null",
    ),
    pytest.param("calendly", CALENDLY_ONE, {"resource": None}, id="calendly-one-null"),
    pytest.param("calendly", CALENDLY_ONE, {"collection": []}, id="calendly-one-no-resource"),
    pytest.param("calendly", CALENDLY_ME, {"resource": ["x"]}, id="calendly-me-array"),
    pytest.param("savvycal", SAVVYCAL_LIST, "Unauthenticated", id="savvycal-plain-text"),
    pytest.param("savvycal", SAVVYCAL_LIST, [], id="savvycal-array"),
    pytest.param("savvycal", SAVVYCAL_LIST, {"entries": []}, id="savvycal-no-metadata"),
    pytest.param(
        "savvycal", SAVVYCAL_LIST, savvycal_links_with(durations=["thirty"]), id="savvycal-dur"
    ),
    pytest.param(
        "savvycal", SAVVYCAL_LIST, savvycal_links_with(default_duration="30 min"), id="sc-default"
    ),
    pytest.param("savvycal", SAVVYCAL_LIST, savvycal_links_with(scope="john"), id="sc-scope"),
    pytest.param("savvycal", SAVVYCAL_LIST, savvycal_links_with(state=None), id="sc-no-state"),
    pytest.param("savvycal", SAVVYCAL_ME, {"email": "a@b.c"}, id="savvycal-me-no-id"),
]


@pytest.mark.parametrize(("kind", "endpoint", "body"), UNREADABLE)
def test_an_answer_that_cannot_be_read_is_a_bad_response(http, make_client, kind, endpoint, body):
    url, call = endpoint
    if isinstance(body, str):
        http.get(url, body=body, content_type="application/json")
    else:
        http.get(url, json=body)

    with pytest.raises(BadResponse) as raised:
        call(make_client(kind))

    assert raised.value.provider == kind


def test_an_upsert_answer_that_cannot_be_read_is_a_bad_response(http, close):
    answer = recorded("close", "integration_link")
    del answer["source"]
    http.post(f"{CLOSE_API}/scheduling_link/integration/", json=answer)
    link = DesiredLink("savvycal", "l", "savvycal:l:u", "Chat", "https://s.test/a/b", None, 30, "S")

    with pytest.raises(BadResponse):
        close.upsert_link(link.payload())


def test_a_webhook_answer_without_its_state_is_a_bad_response(http, calendly):
    answer = recorded("calendly", "webhook_subscription")
    del answer["resource"]["state"]
    http.get(f"{CALENDLY_API}/webhook_subscriptions/AAAA", json=answer)

    with pytest.raises(BadResponse):
        calendly.webhook("AAAA")


def test_fields_a_provider_adds_later_are_ignored(http, calendly):
    body = event_types_with(brand_new_field={"nested": [1, 2]}, locations=[{"kind": "zoom"}])
    http.get(f"{CALENDLY_API}/event_types", json=body)

    (item,) = calendly.event_types(USER_URI)

    assert item["name"] == "15 Minute Meeting"
    assert "brand_new_field" not in item
