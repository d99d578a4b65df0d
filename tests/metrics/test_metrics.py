"""`GET /metrics` (CONTRACT §3): the text format a scraper reads, the contract's metric names,
labels and types, counted where things happen, and never a failure where Redis is down."""

from __future__ import annotations

import pytest
import responses

from tests.admin.conftest import ADMIN, set_state
from tests.conftest import add_account
from tests.metrics.exposition_parser import ExpositionError, parse, value
from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from tests.tokens.conftest import CALENDLY_TOKEN, connection_id, expire_in
from worker import metrics
from worker.sync.full import full_sync
from worker.sync.targeted import sync_event_type
from worker.tasks.refresh import refresh_token_of

CONTRACT = {
    "schedsync_sync_runs_total": ("counter", {"kind", "outcome"}),
    "schedsync_sync_duration_seconds": ("histogram", {"kind"}),
    "schedsync_link_writes_total": ("counter", {"provider", "action"}),
    "schedsync_webhook_deliveries_total": ("counter", {"status"}),
    "schedsync_token_refreshes_total": ("counter", {"provider", "outcome"}),
    "schedsync_rate_limited_total": ("counter", {"provider"}),
    "schedsync_connections": ("gauge", {"provider", "state"}),
}


@pytest.fixture(autouse=True)
def nothing_counted_before():
    metrics.discard()
    yield
    metrics.discard()


@pytest.fixture
def world(db):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeClose(rsps), FakeCalendly(rsps), FakeSavvyCal(rsps), rsps


def scrape(client) -> dict:
    response = client.get("/metrics", headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(response.get_data(as_text=True))


def test_every_contract_metric_is_there_with_its_type_and_help(client, db):
    families = scrape(client)

    for name, (kind, _labels) in CONTRACT.items():
        assert families[name].type == kind, name
        assert families[name].help, name


def test_metrics_need_the_admin_token(client, db):
    response = client.get("/metrics")
    assert (response.status_code, response.get_json()["error"]) == (401, "unauthorized")


def test_syncs_and_writes_are_counted_with_the_contract_labels(world, client, account):
    close, calendly, savvycal, _ = world
    calendly.add("E1", name="Intro")
    savvycal.add("S1")
    full_sync(account)
    calendly.event_types["E1"]["name"] = "Intro (new)"
    sync_event_type(account, "E1")
    full_sync(account)

    families = scrape(client)

    assert value(families, "schedsync_sync_runs_total", kind="full", outcome="ok") == 2
    assert value(families, "schedsync_sync_runs_total", kind="event_type", outcome="ok") == 1
    writes = "schedsync_link_writes_total"
    assert value(families, writes, provider="calendly", action="created") == 1
    assert value(families, writes, provider="savvycal", action="created") == 1
    assert value(families, writes, provider="calendly", action="updated") == 1
    duration = "schedsync_sync_duration_seconds"
    assert value(families, f"{duration}_count", kind="full") == 2
    assert value(families, f"{duration}_bucket", kind="full", le="+Inf") == 2
    assert value(families, f"{duration}_sum", kind="full") > 0
    for name, (_kind, labels) in CONTRACT.items():
        for _sample, have, _v in families[name].samples:
            assert set(have) - {"le"} == labels, (name, have)


def test_a_rate_limit_and_a_refused_write_are_counted(world, client, account):
    close, calendly, _, _ = world
    calendly.add("E1")
    calendly.add("E2")
    close.fail_next = [422, 429]
    with pytest.raises(Exception, match="rate"):
        full_sync(account)

    families = scrape(client)
    assert value(families, "schedsync_rate_limited_total", provider="close") == 1
    assert value(families, "schedsync_link_writes_total", provider="calendly", action="failed") == 1
    assert value(families, "schedsync_sync_runs_total", kind="full", outcome="error") == 1


def test_token_refreshes_are_counted_by_outcome(client, account, world):
    _, _, _, rsps = world
    conn = connection_id(account, "calendly")
    rsps.post(CALENDLY_TOKEN, json={"access_token": "a", "refresh_token": "r", "expires_in": 60})
    expire_in(conn, 30)
    assert refresh_token_of(conn) == "ok"
    rsps.replace(responses.POST, CALENDLY_TOKEN, status=400, json={"error": "invalid_grant"})
    expire_in(conn, 30)
    from worker.auth import tokens

    tokens.runtime.redis_client().delete(tokens._fresh_key(conn))
    assert refresh_token_of(conn) == "needs_reauth"

    families = scrape(client)
    refreshes = "schedsync_token_refreshes_total"
    assert value(families, refreshes, provider="calendly", outcome="ok") == 1
    assert value(families, refreshes, provider="calendly", outcome="needs_reauth") == 1


def test_webhook_deliveries_are_counted_by_status(client, db):
    for _ in range(2):
        client.post("/webhooks/calendly/nohook", json={"event": "event_type.updated"})
    client.post("/webhooks/calendly/nohook", data="x", content_type="text/plain")

    families = scrape(client)
    unknown = client.post("/webhooks/calendly/nohook", json={}).status_code
    assert value(families, "schedsync_webhook_deliveries_total", status=unknown) == 2
    assert value(families, "schedsync_webhook_deliveries_total", status=415) == 1


def test_the_connections_gauge_counts_every_provider_and_state(client, db):
    a = add_account("user_A")
    add_account("user_B", savvycal=False)
    set_state(a, "calendly", "needs_reauth")

    families = scrape(client)

    gauge = "schedsync_connections"
    assert value(families, gauge, provider="calendly", state="needs_reauth") == 1
    assert value(families, gauge, provider="calendly", state="active") == 1
    assert value(families, gauge, provider="savvycal", state="active") == 1
    assert value(families, gauge, provider="close", state="active") == 2
    zero = [
        s
        for s in families[gauge].samples
        if s[1] == {"provider": "savvycal", "state": "disconnected"}
    ]
    assert zero and zero[0][2] == 0  # present at zero, so the series never vanishes


def test_redis_down_fails_no_sync_and_the_counts_go_out_once_it_is_back(
    world, client, account, fake_redis_server
):
    _, calendly, _, _ = world
    calendly.add("E1")
    fake_redis_server.connected = False
    run_id = full_sync(account)  # counting with Redis down
    assert run_id
    assert metrics.flush() is False
    assert client.get("/metrics", headers=ADMIN).status_code == 503

    fake_redis_server.connected = True
    families = scrape(client)
    assert value(families, "schedsync_sync_runs_total", kind="full", outcome="ok") == 1


def test_label_values_are_escaped():
    metrics.count("schedsync_rate_limited_total", provider='we"ird\\\nname')
    text = "\n".join(
        [
            "# TYPE schedsync_rate_limited_total counter",
            "schedsync_rate_limited_total{"
            + metrics.series(("provider",), {"provider": 'we"ird\\\nname'})
            + "} 1",
            "",
        ]
    )
    families = parse(text)
    assert value(families, "schedsync_rate_limited_total", provider='we"ird\\\nname') == 1


def test_the_parser_is_strict():
    for bad in (
        "x_total 1",  # no TYPE before it, no final line feed
        "# TYPE x counter\nx{a=b} 1\n",  # unquoted label value
        '# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n',  # no +Inf bucket
        '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ):
        with pytest.raises(ExpositionError):
            parse(bad)
