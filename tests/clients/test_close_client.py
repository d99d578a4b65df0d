"""The Close client writes links only through the OAuth integration endpoints, exactly as
CONTRACT §4 and reference/close-api.md §1.3 describe them."""

from __future__ import annotations

import pytest

from tests.clients.recorded import recorded, sent_json
from tests.conftest import CLOSE_API
from worker.providers.calendly.links import add_calendly
from worker.providers.errors import Forbidden
from worker.providers.savvycal.links import add_savvycal
from worker.sync.links import Selection

UPSERT_URL = f"{CLOSE_API}/scheduling_link/integration/"
CONTRACT_FIELDS = {"source_id", "name", "url", "description", "duration_in_minutes", "source_type"}


@pytest.mark.parametrize(
    ("source_id", "encoded"),
    [
        ("calendly:ABC:user_X", "calendly%3AABC%3Auser_X"),
        ("savvycal:link_01ED/74:user_X", "savvycal%3Alink_01ED%2F74%3Auser_X"),
        ("calendly:A B?&#:user_X", "calendly%3AA%20B%3F%26%23%3Auser_X"),
    ],
)
def test_delete_link_url_encodes_the_source_id_and_ends_with_a_slash(
    http, close, source_id, encoded
):
    http.delete(f"{CLOSE_API}/scheduling_link/integration/{encoded}/", status=204)

    assert close.delete_link(source_id) is True

    (call,) = http.calls
    assert call.request.method == "DELETE"
    assert call.request.url == f"{CLOSE_API}/scheduling_link/integration/{encoded}/"
    assert call.request.headers["Authorization"] == "Bearer access-token-1"


def test_delete_link_answers_false_when_close_says_it_is_already_gone(http, close):
    http.delete(f"{CLOSE_API}/scheduling_link/integration/calendly%3AABC%3Auser_X/", status=404)

    assert close.delete_link("calendly:ABC:user_X") is False
    assert len(http.calls) == 1


def test_delete_link_raises_on_any_other_refusal(http, close):
    http.delete(f"{CLOSE_API}/scheduling_link/integration/calendly%3AABC%3Auser_X/", status=403)

    with pytest.raises(Forbidden):
        close.delete_link("calendly:ABC:user_X")


def calendly_link():
    selection = Selection()
    event_type = recorded("calendly", "event_type")["resource"]
    add_calendly(selection, event_type, "user_N6Kh")
    (link,) = selection.links.values()
    return link


def savvycal_link():
    selection = Selection()
    add_savvycal(selection, recorded("savvycal", "link"), "user_N6Kh", "https://savvycal.test")
    (link,) = selection.links.values()
    return link


@pytest.mark.parametrize("build", [calendly_link, savvycal_link], ids=["calendly", "savvycal"])
def test_upsert_sends_json_with_exactly_the_fields_of_the_contract(http, close, build):
    link = build()
    http.post(
        f"{CLOSE_API}/scheduling_link/integration/", json=recorded("close", "integration_link")
    )

    stored = close.upsert_link(link.payload())

    (call,) = http.calls
    assert call.request.method == "POST"
    assert call.request.url == f"{CLOSE_API}/scheduling_link/integration/"
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["Authorization"] == "Bearer access-token-1"
    body = sent_json(call)
    assert set(body) == CONTRACT_FIELDS
    assert body == {
        "source_id": link.source_id,
        "name": link.name,
        "url": link.url,
        "description": link.description,
        "duration_in_minutes": link.duration_in_minutes,
        "source_type": link.source_type,
    }
    assert stored["oauth_client_id"] == "oa2client_5NvOjgHYKHkbBjv5Rmiyfp"


def test_upsert_of_a_calendly_event_type_sends_its_mapped_values(http, close):
    http.post(
        f"{CLOSE_API}/scheduling_link/integration/", json=recorded("close", "integration_link")
    )

    close.upsert_link(calendly_link().payload())

    assert sent_json(http.calls[0]) == {
        "source_id": "calendly:AAAAAAAAAAAAAAAA:user_N6Kh",
        "name": "15 Minute Meeting",
        "url": "https://calendly.com/acmesales",
        "description": "15 Minute Meeting",
        "duration_in_minutes": 30,
        "source_type": "Calendly · Solo",
    }


def test_upsert_accepts_201_as_well_as_200(http, close):
    http.post(
        f"{CLOSE_API}/scheduling_link/integration/",
        status=201,
        json=recorded("close", "integration_link"),
    )

    assert close.upsert_link(savvycal_link().payload())["source"] == "THIRD_PARTY"


def test_me_reads_the_current_user(http, close):
    http.get(f"{CLOSE_API}/me/", json={"id": "user_N6Kh", "email": "rep@example.com"})

    assert close.me()["email"] == "rep@example.com"
    assert http.calls[0].request.url == f"{CLOSE_API}/me/"
