"""Whatever a provider sends, reading it either succeeds or raises BadResponse (or another typed
ProviderError): never a crash of another kind, which would take the worker's task down."""

import json

import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.providers.calendly.client import CalendlyClient
from worker.providers.calendly.links import calendly_selection
from worker.providers.close.client import CloseClient, parse_ratelimit
from worker.providers.errors import ProviderError
from worker.providers.savvycal.client import SavvyCalClient
from worker.providers.savvycal.links import savvycal_selection

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)

# Objects shaped roughly like the real ones, with any field replaced by anything.
calendly_like = st.fixed_dictionaries(
    {},
    optional={
        "uri": st.text(max_size=30) | json_values,
        "name": st.text(max_size=10) | json_values,
        "active": st.booleans() | json_values,
        "scheduling_url": st.text(max_size=30) | json_values,
        "duration": st.integers() | json_values,
        "kind": st.sampled_from(["solo", "group"]) | json_values,
        "pooling_type": st.sampled_from(["round_robin", "collective", None]) | json_values,
        "type": st.sampled_from(["StandardEventType", "AdhocEventType"]) | json_values,
        "description_plain": st.text(max_size=10) | json_values,
        "deleted_at": st.none() | json_values,
    },
)
savvycal_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=10) | json_values,
        "state": st.sampled_from(["active", "disabled"]) | json_values,
        "slug": st.text(max_size=10) | json_values,
        "name": st.text(max_size=10) | json_values,
        "durations": st.lists(st.integers(), max_size=3) | json_values,
        "default_duration": st.integers() | json_values,
        "scope": st.fixed_dictionaries({"slug": st.text(max_size=5) | json_values}) | json_values,
    },
)
bodies = (
    json_values.map(json.dumps)
    | st.text(max_size=50)
    | st.builds(
        lambda items: json.dumps({"collection": items, "pagination": {}}),
        st.lists(calendly_like, max_size=3),
    )
    | st.builds(
        lambda items: json.dumps({"entries": items, "metadata": {"after": None}}),
        st.lists(savvycal_like, max_size=3),
    )
    | st.builds(
        lambda items: json.dumps({"data": items, "has_more": False}),
        st.lists(json_values, max_size=3),
    )
)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def read_with(client_call, url, body):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, url, body=body, status=200)
        try:
            result = client_call()
        except ProviderError:
            return None
    return result


@FUZZ
@given(body=bodies)
def test_calendly_event_type_pages_never_crash(body):
    client = CalendlyClient("https://api.calendly.test", session=requests.Session())
    items = read_with(
        lambda: client.event_types("u"), "https://api.calendly.test/event_types", body
    )
    if items is not None:
        selection = calendly_selection(items, "user_A")
        assert all(link.name and link.url for link in selection.links.values())


@FUZZ
@given(body=bodies)
def test_savvycal_link_pages_never_crash(body):
    client = SavvyCalClient("https://api.savvycal.test/v1", session=requests.Session())
    items = read_with(client.links, "https://api.savvycal.test/v1/links", body)
    if items is not None:
        selection = savvycal_selection(items, "user_A", "https://savvycal.com")
        assert all(
            link.url.startswith("https://savvycal.com/") for link in selection.links.values()
        )


@FUZZ
@given(body=bodies)
def test_close_link_pages_never_crash(body):
    client = CloseClient("https://api.close.test/api/v1", session=requests.Session())
    links = read_with(
        client.scheduling_links, "https://api.close.test/api/v1/scheduling_link/", body
    )
    if links is not None:
        assert all(isinstance(link["id"], str) for link in links)


header_parts = st.tuples(
    st.sampled_from(["limit", "remaining", "reset", "RESET", "x", ""]),
    st.sampled_from(["=", " = ", ":", ""]),
    st.from_regex(r"-?[0-9.]{0,6}(e[0-9]{1,3})?", fullmatch=True)
    | st.text(max_size=6)
    | st.sampled_from(["inf", "nan", "1.2.3"]),
).map("".join)
ratelimit_headers = st.lists(header_parts, max_size=4).map(", ".join) | st.text(max_size=40)


@given(header=ratelimit_headers)
def test_close_ratelimit_header_parsing_never_crashes(header):
    parsed = parse_ratelimit(header)
    assert all(isinstance(v, float) and v == v and abs(v) != float("inf") for v in parsed.values())


def test_close_ratelimit_header_reads_the_documented_form():
    assert parse_ratelimit("limit=100, remaining=50, reset=5.5") == {
        "limit": 100.0,
        "remaining": 50.0,
        "reset": 5.5,
    }
