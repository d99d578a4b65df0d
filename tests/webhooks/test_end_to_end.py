"""A Calendly change reaches Close through the running service: the sandbox's Calendly delivers a
signed event_type.updated webhook to gunicorn, a Celery worker re-reads the event type and fixes
the link in the sandbox's Close. Real redis-server, real processes (CONTRACT §5 Latency)."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.processes import Stack, wait_for
from tests.webhooks import sandbox_world as sw
from worker import runtime
from worker.storage.models import Connection, WebhookSubscription
from worker.sync import history

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

ALICE = "alice@example.com"
OUR_APP = "oa2client_sandbox"  # the sandbox's Close object id of our OAuth app
# One of Alice's demo event types that is ours alone in Close ("30 Minute Meeting" is also held
# by Close's own Calendly integration, so it is never pushed).
EVENT_TYPE = "Discovery Call"


@pytest.fixture
def stack(tmp_path, redis_server, real_redis):
    stack = Stack(tmp_path, redis_server.url)
    yield stack
    stack.stop_all()


def ours(links: list[dict], source_id: str) -> dict | None:
    # The demo world also holds another app's link under the same source_id: never ours.
    return next(
        (
            link
            for link in links
            if link.get("source_id") == source_id and link.get("oauth_client_id") == OUR_APP
        ),
        None,
    )


def test_an_event_type_renamed_in_calendly_is_renamed_in_close_within_seconds(stack):
    _, sandbox = stack.start_sandbox()
    env = sw.sandbox_env(sandbox)
    web_port = free_port()
    public_url = f"http://127.0.0.1:{web_port}"
    stack.env_overrides.update({**env, "PUBLIC_URL": public_url})
    stack.migrate()
    settings = sw.stack_settings(stack.tmp, stack.redis_url, env, public_url)
    rep = sw.connect_rep(sandbox, env, settings, ALICE)
    stack.start_web(port=web_port)
    stack.start_worker()
    try:
        # Connect: the subscription, then the first full sync puts Alice's links into Close.
        sw.send_task(
            stack.redis_url, "worker.tasks.webhooks.ensure_subscription", rep.calendly_connection_id
        )
        wait_for(
            lambda: webhook_state(rep.calendly_connection_id) == "active", 20, what="subscription"
        )
        (hook,) = hooks(rep.calendly_connection_id)
        (remote,) = sw.state(sandbox)["calendly"]["webhook_subscriptions"]
        assert remote["callback_url"] == f"{public_url}/webhooks/calendly/{hook.hook_id}"
        assert remote["signing_key"] == hook.signing_key

        from worker.sync.triggers import record

        record([rep.account_id])
        sw.send_task(stack.redis_url, "worker.tasks.reconcile.reconcile_account", rep.account_id)
        event_type = next(
            e for e in sw.event_types_of(sandbox, rep.calendly_user_uri) if e["name"] == EVENT_TYPE
        )
        uuid = event_type["uri"].rsplit("/", 1)[-1]
        source_id = f"calendly:{uuid}:{rep.close_user_id}"
        wait_for(
            lambda: ours(sw.close_links(sandbox, rep.close_user_id), source_id),
            20,
            what="the first sync's link",
        )

        # The change: renamed in Calendly → a signed delivery → the link in Close follows.
        sw.edit_event_type(sandbox, uuid, name="Discovery Call (renamed)", duration=25)
        link = wait_for(
            lambda: (
                (found := ours(sw.close_links(sandbox, rep.close_user_id), source_id))
                and found["name"] == "Discovery Call (renamed)"
                and found
            ),
            10,
            what="the renamed link in Close",
        )
        assert link["duration_in_minutes"] == 25
        delivery = wait_for(
            lambda: [d for d in sw.deliveries(sandbox) if d["event"] == "event_type.updated"],
            5,
            what="the delivery record",
        )
        assert delivery[0]["status"] == 200
        # The history says what happened and why: one change of a webhook's run.
        run = wait_for(
            lambda: next(
                (r for r in history.recent_runs(rep.account_id) if r["kind"] == "event_type"),
                None,
            ),
            10,
            what="the webhook's run in the history",
        )
        assert (run["trigger"], run["outcome"]) == ("webhook", "ok")
        (change,) = run["changes"]
        assert (change["source_id"], change["action"]) == (source_id, "updated")
        assert change["changed"]["name"] == [EVENT_TYPE, "Discovery Call (renamed)"]
        assert change["changed"]["duration_in_minutes"][1] == 25

        # A deactivation removes it.
        sw.edit_event_type(sandbox, uuid, active=False)
        wait_for(
            lambda: ours(sw.close_links(sandbox, rep.close_user_id), source_id) is None,
            10,
            what="the deactivated link gone from Close",
        )
    except BaseException:
        print(stack.logs())
        raise


def webhook_state(connection_id: int) -> str:
    with runtime.session_scope() as session:
        return session.get(Connection, connection_id).webhook_state


def hooks(connection_id: int) -> list[WebhookSubscription]:
    with runtime.session_scope() as session:
        subs = session.query(WebhookSubscription).filter_by(connection_id=connection_id).all()
        session.expunge_all()
        return subs
