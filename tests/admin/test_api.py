"""The admin API of CONTRACT §3: who may call it, what it answers, what it queues."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.admin.conftest import ADMIN, add_mapping, add_run
from worker import runtime
from worker.storage.models import Account, Connection, utcnow

ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ROUTES = [
    ("POST", "/admin/resync"),
    ("GET", "/admin/accounts"),
    ("GET", "/admin/accounts/user_A"),
]
RECONCILE = "worker.tasks.reconcile.reconcile_account"


def call(client, method, path, **kwargs):
    if method == "POST":
        kwargs.setdefault("json", {})
    return client.open(path, method=method, **kwargs)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def requested_seq(account_id: int) -> int:
    with runtime.session_scope() as session:
        return session.get(Account, account_id).sync_requested_seq


# --- who may call it ----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_admin_route_is_503_admin_disabled_when_no_admin_token_is_set(
    admin_off_client, account, enqueued, method, path
):
    response = call(admin_off_client, method, path, headers={"Authorization": "Bearer "})
    assert response.status_code == 503
    assert response.get_json() == {
        "error": "admin_disabled",
        "message": "The admin API is switched off: ADMIN_TOKEN is not set.",
    }
    assert enqueued == []


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer test-admin-token-and-more"},
        {"Authorization": "Basic test-admin-token"},
        {"Authorization": "test-admin-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer t\u00e9st-admin-token"},
    ],
    ids=["missing", "wrong", "longer", "basic", "no-scheme", "empty", "non-ascii"],
)
def test_a_missing_or_wrong_token_is_401_unauthorized_and_changes_nothing(
    client, account, enqueued, method, path, headers
):
    response = call(client, method, path, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "unauthorized",
        "message": "A valid admin bearer token is required.",
    }
    assert enqueued == []
    assert requested_seq(account) == 0


def test_the_bearer_scheme_is_case_insensitive(client, account, enqueued):
    response = client.get("/admin/accounts", headers={"Authorization": "bearer test-admin-token"})
    assert response.status_code == 200


def test_the_token_never_appears_in_an_answer(client, account):
    response = client.get("/admin/accounts", headers={"Authorization": "Bearer nearly"})
    assert b"test-admin-token" not in response.data
    assert b"nearly" not in response.data


# --- POST /admin/resync -------------------------------------------------------------------------


def test_resync_of_everyone_queues_each_account_with_an_active_connection(client, world, enqueued):
    before = utcnow().replace(microsecond=0)
    response = client.post("/admin/resync", json={}, headers=ADMIN)
    after = utcnow()

    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"queued", "accounts", "requested_at"}
    assert body["queued"] == 2
    assert body["accounts"] == ["user_A", "user_D"]
    assert ISO_MILLIS.match(body["requested_at"])
    requested_at = datetime.fromisoformat(body["requested_at"])
    assert before <= requested_at <= after
    assert sorted(enqueued) == sorted(
        [(RECONCILE, (world["user_A"],)), (RECONCILE, (world["user_D"],))]
    )
    assert {name: requested_seq(i) for name, i in world.items()} == {
        "user_A": 1,
        "user_B": 0,
        "user_C": 0,
        "user_D": 1,
        "user_E": 0,
    }


def test_resync_of_one_account_queues_that_account_only(client, world, enqueued):
    response = client.post("/admin/resync", json={"account": "user_D"}, headers=ADMIN)

    assert response.status_code == 202
    body = response.get_json()
    assert body["queued"] == 1
    assert body["accounts"] == ["user_D"]
    assert enqueued == [(RECONCILE, (world["user_D"],))]


def test_resync_with_no_account_to_sync_queues_nothing(client, db, enqueued):
    response = client.post("/admin/resync", json={}, headers=ADMIN)
    assert response.status_code == 202
    assert response.get_json()["queued"] == 0
    assert response.get_json()["accounts"] == []
    assert enqueued == []


def test_resync_of_an_unknown_account_is_404_not_found_and_queues_nothing(client, world, enqueued):
    response = client.post("/admin/resync", json={"account": "user_nobody"}, headers=ADMIN)
    assert response.status_code == 404
    assert response.get_json() == {
        "error": "not_found",
        "message": "No account has that Close user id.",
    }
    assert enqueued == []


def test_requested_at_is_taken_before_the_trigger_is_recorded(client, account, enqueued, db):
    from web.admin import queue_resync

    queued = queue_resync("user_A")
    with runtime.session_scope() as session:
        recorded_at = session.get(Account, account).sync_requested_at
    assert queued.requested_at <= recorded_at


def test_a_second_resync_while_one_is_queued_records_a_second_trigger(client, account, enqueued):
    # The running task takes up every recorded trigger (worker/sync/triggers.py): nothing is
    # lost and
    # nothing runs in parallel, so the API simply records and enqueues each time.
    for _ in range(2):
        assert client.post("/admin/resync", json={}, headers=ADMIN).status_code == 202
    assert requested_seq(account) == 2
    assert len(enqueued) == 2


def test_the_body_is_read_as_json_whatever_its_content_type(client, account, enqueued):
    response = client.post("/admin/resync", data="{}", content_type="text/plain", headers=ADMIN)
    assert response.status_code == 202


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"{",
        b"[]",
        b'"user_A"',
        b"null",
        b"42",
        b'{"account": 42}',
        b'{"account": null}',
        b'{"account": ["user_A"]}',
        b'{"account": ""}',
        b'{"acount": "user_A"}',
        b"\xff\xfe\xfa",
        b"[" * 60_000,  # deep, yet under the 64 KiB limit (over it is a 413)
    ],
    ids=[
        "empty",
        "text",
        "truncated",
        "array",
        "string",
        "null",
        "number",
        "account-number",
        "account-null",
        "account-list",
        "account-empty",
        "misspelt-field",
        "not-utf8",
        "deep-nesting",
    ],
)
def test_a_body_that_is_not_a_resync_request_is_400_bad_request(client, account, enqueued, body):
    response = client.post(
        "/admin/resync", data=body, content_type="application/json", headers=ADMIN
    )
    assert response.status_code == 400
    answer = response.get_json()
    assert set(answer) == {"error", "message"}
    assert answer["error"] == "bad_request"
    assert enqueued == []
    assert requested_seq(account) == 0


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["account", "x", ""]), inner, max_size=3)
            ),
            max_leaves=10,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_no_body_ever_gets_a_500(client, account, enqueued, body):
    response = client.post(
        "/admin/resync", data=body, content_type="application/json", headers=ADMIN
    )
    assert response.status_code in (202, 400, 404)
    answer = response.get_json()
    if response.status_code == 202:
        assert set(answer) == {"queued", "accounts", "requested_at"}
    else:
        assert set(answer) == {"error", "message"}


def test_resync_answers_405_json_to_a_get(client, account):
    response = client.get("/admin/resync", headers=ADMIN)
    assert response.status_code == 405
    assert set(response.get_json()) == {"error", "message"}


# --- GET /admin/accounts ------------------------------------------------------------------------


def expected_account(account_id: int, run_started: datetime | None) -> dict:
    with runtime.session_scope() as session:
        expires = {
            c.provider: iso(c.token_expires_at)
            for c in session.scalars(select(Connection).where(Connection.account_id == account_id))
        }
    return {
        "close_user_id": "user_A",
        "email": "user_A@example.com",
        "organization_id": "orga_1",
        "state": "active",
        "connections": [
            {
                "provider": "calendly",
                "state": "active",
                "token_expires_at": expires["calendly"],
                "webhook": "active",
                "webhook_reason": None,  # said only while polling_only
            },
            {
                "provider": "savvycal",
                "state": "needs_reauth",
                "token_expires_at": expires["savvycal"],
                "webhook": "none",
                "webhook_reason": None,
            },
        ],
        "last_sync": None
        if run_started is None
        else {
            "started_at": iso(run_started),
            "finished_at": iso(run_started + timedelta(seconds=2)),
            "outcome": "partial",
            "created": 3,
            "updated": 1,
            "deleted": 0,
            "unchanged": 20,
            "failed": 0,
            "error": "savvycal: unavailable",
            "warnings": ["savvycal needs reconnecting; its links in Close are kept as they are"],
        },
    }


@pytest.fixture
def described_account(account):
    from tests.admin.conftest import set_state

    set_state(account, "savvycal", "needs_reauth")
    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(
                Connection.account_id == account, Connection.provider == "calendly"
            )
        ).one()
        conn.webhook_state = "active"
    started = datetime(2026, 3, 1, 9, 30, 15, 250_000, tzinfo=UTC)
    add_run(account, started - timedelta(hours=1), outcome="ok")  # older: not shown
    add_run(
        account,
        started,
        finished_at=started + timedelta(seconds=2),
        outcome="partial",
        created=3,
        updated=1,
        unchanged=20,
        error="savvycal: unavailable",
        warnings_json=json.dumps(
            ["savvycal needs reconnecting; its links in Close are kept as they are"]
        ),
    )
    return account, started


def test_accounts_lists_every_account_in_the_contracts_shape(client, described_account):
    account, started = described_account
    from tests.conftest import add_account

    add_account("user_Z", calendly=False, savvycal=False)

    response = client.get("/admin/accounts", headers=ADMIN)

    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["accounts"]
    assert body["accounts"][0] == expected_account(account, started)
    assert body["accounts"][1] == {
        "close_user_id": "user_Z",
        "email": "user_Z@example.com",
        "organization_id": "orga_1",
        "state": "active",
        "connections": [],
        "last_sync": None,
    }


def test_accounts_is_an_empty_list_when_nobody_has_signed_in(client, db):
    response = client.get("/admin/accounts", headers=ADMIN)
    assert response.status_code == 200
    assert response.get_json() == {"accounts": []}


def test_one_account_carries_its_links(client, described_account):
    account, started = described_account
    pushed = datetime(2026, 3, 1, 9, 30, 16, tzinfo=UTC)
    add_mapping(
        account,
        "savvycal",
        "link_01",
        "user_A",
        name="Demo",
        url="https://savvycal.test/alice/demo",
        close_link_id="schlnk_2",
        pushed_at=pushed,
    )
    add_mapping(
        account,
        "calendly",
        "E1",
        "user_A",
        name="Intro",
        url="https://calendly.com/acme/intro",
        close_link_id="schlnk_1",
        pushed_at=pushed,
    )

    response = client.get("/admin/accounts/user_A", headers=ADMIN)

    assert response.status_code == 200
    assert response.get_json() == {
        **expected_account(account, started),
        "links": [
            {
                "provider": "calendly",
                "source_id": "calendly:E1:user_A",
                "name": "Intro",
                "url": "https://calendly.com/acme/intro",
                "close_link_id": "schlnk_1",
                "pushed_at": "2026-03-01T09:30:16.000Z",
            },
            {
                "provider": "savvycal",
                "source_id": "savvycal:link_01:user_A",
                "name": "Demo",
                "url": "https://savvycal.test/alice/demo",
                "close_link_id": "schlnk_2",
                "pushed_at": "2026-03-01T09:30:16.000Z",
            },
        ],
    }


def test_one_unknown_account_is_404_not_found(client, account):
    response = client.get("/admin/accounts/user_nobody", headers=ADMIN)
    assert response.status_code == 404
    assert response.get_json() == {
        "error": "not_found",
        "message": "No account has that Close user id.",
    }


def test_no_token_appears_in_the_account_answers(client, described_account):
    answers = client.get("/admin/accounts", headers=ADMIN).data
    answers += client.get("/admin/accounts/user_A", headers=ADMIN).data
    for secret in (b"close-at-", b"close-rt-", b"cal-at-", b"cal-rt-", b"sc-at-", b"sc-rt-"):
        assert secret not in answers


def test_with_the_broker_down_every_trigger_is_recorded_and_the_answer_is_quick(
    client, world, monkeypatch
):
    import redis

    from worker.tasks.reconcile import reconcile_account

    tries = []

    def broker_down(*args, **kwargs):
        tries.append(args)
        raise redis.ConnectionError("Error 111 connecting to localhost:6379")

    monkeypatch.setattr(reconcile_account, "apply_async", broker_down)

    response = client.post("/admin/resync", json={}, headers=ADMIN)

    assert response.status_code == 202
    assert response.get_json()["accounts"] == ["user_A", "user_D"]
    assert len(tries) == 1  # not once per account: each try waits out the client's retries
    assert requested_seq(world["user_A"]) == 1
    assert requested_seq(world["user_D"]) == 1
