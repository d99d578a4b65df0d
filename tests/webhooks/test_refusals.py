"""Why Calendly refused a webhook subscription (issue 9.11): a missing scope is told apart from a
plan or a permission from the 403's body, shown on the connect page and in /admin/accounts, and
the resync goes on either way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.admin.conftest import ADMIN
from tests.web.test_connect_page import card, page_of
from tests.webhooks.conftest import calendly_connection_id
from worker import runtime
from worker.calendly.refusals import MISSING_SCOPE, PERMISSION, PLAN, UNKNOWN, classify
from worker.storage.models import Account, Connection, utcnow
from worker.tasks.reconcile import resync_sweep
from worker.tasks.webhooks import ensure_subscription

# The insufficient-scope answer carries the scopes it wanted (reference/calendly-api.md §5).
SCOPE_REFUSAL = {
    "title": "Permission Denied",
    "message": "This token does not have the required scopes for this action.",
    "required_scopes": ["webhooks:write"],
}
PLAN_REFUSAL = {
    "title": "Permission Denied",
    "message": "Please upgrade your Calendly account to Standard",
}


@pytest.mark.parametrize(
    ("body", "code", "scopes"),
    [
        (SCOPE_REFUSAL, MISSING_SCOPE, ("webhooks:write",)),
        (
            {"title": "Permission Denied", "message": "Insufficient scope: event_types:read"},
            MISSING_SCOPE,
            ("event_types:read",),
        ),
        (
            {"title": "Permission Denied", "message": "The access token has insufficient scope"},
            MISSING_SCOPE,
            ("webhooks:write", "event_types:read"),
        ),
        (PLAN_REFUSAL, PLAN, ()),
        (
            {"title": "Permission Denied", "message": "You do not have permission to access this."},
            PERMISSION,
            (),
        ),
        (
            {"title": "Permission Denied", "message": "Only admins may use organization scope"},
            UNKNOWN,
            (),
        ),
        ({"title": "Permission Denied"}, UNKNOWN, ()),  # every 403 has that title
        (None, UNKNOWN, ()),  # not JSON
    ],
)
def test_a_refusal_is_read_from_the_answer_body(body, code, scopes):
    refusal = classify(body)
    assert (refusal.code, refusal.scopes) == (code, scopes)


@pytest.fixture
def conn_id(account) -> int:
    return calendly_connection_id(account)


def admin_connection(client, provider: str = "calendly") -> dict:
    (account,) = client.get("/admin/accounts", headers=ADMIN).get_json()["accounts"]
    return next(c for c in account["connections"] if c["provider"] == provider)


def test_a_missing_scope_is_not_called_a_free_plan(client, account, conn_id, calendly_hooks):
    calendly_hooks.forbid_create = SCOPE_REFUSAL

    assert ensure_subscription.run(conn_id) == "polling_only"

    shown = admin_connection(client)
    assert shown["webhook"] == "polling_only"
    assert shown["webhook_reason"]["code"] == "missing_scope"
    assert shown["webhook_reason"]["scopes"] == ["webhooks:write"]
    assert "lacks the scope webhooks:write" in shown["webhook_reason"]["message"]
    assert admin_connection(client, "savvycal")["webhook_reason"] is None
    page = card(page_of(client, account), "calendly")
    assert "polling only" in page
    assert "lacks the scope webhooks:write" in page
    assert "plan" not in page


def test_a_plan_refusal_says_so(client, account, conn_id, calendly_hooks):
    calendly_hooks.forbid_create = PLAN_REFUSAL

    assert ensure_subscription.run(conn_id) == "polling_only"

    assert admin_connection(client)["webhook_reason"]["code"] == "plan"
    assert "plan does not include webhooks" in card(page_of(client, account), "calendly")


def test_the_reason_goes_once_calendly_accepts_the_subscription(client, conn_id, calendly_hooks):
    calendly_hooks.forbid_create = SCOPE_REFUSAL
    ensure_subscription.run(conn_id)
    calendly_hooks.forbid_create = False

    assert ensure_subscription.run(conn_id) == "created"

    shown = admin_connection(client)
    assert (shown["webhook"], shown["webhook_reason"]) == ("active", None)


def test_a_refused_connection_keeps_being_resynced(account, conn_id, calendly_hooks, enqueued):
    calendly_hooks.forbid_create = SCOPE_REFUSAL
    ensure_subscription.run(conn_id)
    with runtime.session_scope() as session:
        session.execute(
            update(Account)
            .where(Account.id == account)
            .values(next_full_sync_at=utcnow() - timedelta(seconds=1))
        )
        assert session.get(Connection, conn_id).state == "active"

    assert resync_sweep() == 1
    assert ("worker.tasks.reconcile.reconcile_account", (account,)) in enqueued
