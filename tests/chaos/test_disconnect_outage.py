"""Disconnect pressed while the broker is down (CONTRACT §5 "Durable clean-up"): the page says the
clean-up could not be queued yet, and once Redis is back beat's sweep enqueues it and a real
worker finishes it: the subscription deleted at Calendly, the grant revoked, the tokens erased
and the links gone from Close, with nobody pressing anything again."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import free_port
from tests.e2e import world
from tests.e2e.browser import Browser
from tests.processes import wait_for, wait_log

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def stored(stack, calendly_uuid: str) -> tuple:
    db = sqlite3.connect(f"file:{stack.tmp / 'schedsync.db'}?mode=ro", uri=True)
    try:
        return db.execute(
            "SELECT state, access_token IS NOT NULL, refresh_token IS NOT NULL, "
            "cleanup_next_at IS NOT NULL FROM connections "
            "WHERE provider = 'calendly' AND external_user_id LIKE ?",
            (f"%{calendly_uuid}",),
        ).fetchone()
    finally:
        db.close()


def revokes(sandbox: world.Sandbox) -> int:
    counts = sandbox.requests_seen()["counts"].get("calendly", {})
    return counts.get("POST /calendly/auth/oauth/revoke", 0)


def test_a_disconnect_during_a_broker_outage_is_finished_by_the_sweep(
    stack_on_own_redis, own_redis
):
    stack = stack_on_own_redis
    _, sandbox_url = stack.start_sandbox()
    sandbox = world.Sandbox(sandbox_url)
    web_port = free_port()
    web = f"http://127.0.0.1:{web_port}"
    stack.env_overrides.update(
        {
            **sandbox.env(),
            "PUBLIC_URL": web,
            "SCHEDSYNC_SWEEP_SECONDS": "2",
            "HTTP_RETRY_BACKOFF_SECONDS": "0.1",
        }
    )
    stack.migrate()
    stack.start_web(port=web_port, workers=1)
    worker = stack.start_worker(concurrency=2)
    beat = stack.start_beat()

    (seeded,) = sandbox.send(
        "POST", "/seed/scale", {"users": 1, "event_types_per_user": 3, "savvycal_links_per_user": 0}
    )["users"]
    person = sandbox.person(seeded["email"])
    browser = Browser(web)
    browser.sign_in(person.close_user_id)
    browser.connect("calendly", person.calendly_uuid)
    hooks = lambda: [h for h in sandbox.hooks() if h["user_uuid"] == person.calendly_uuid]  # noqa: E731
    wait_for(hooks, 30, what="the webhook subscription at Calendly")
    wait_for(lambda: world.in_step(sandbox, person, savvycal=False), 30, what="the first sync")
    assert len(world.ours_in_close(sandbox, person)) == 3
    revokes_before = revokes(sandbox)

    own_redis.stop()
    browser.disconnect("calendly")

    page = browser.page()
    assert "could not be queued yet" in page
    assert stored(stack, person.calendly_uuid) == ("disconnected", True, True, True)
    wait_log(worker, "Connection to broker lost", timeout=30)

    own_redis.start()  # empty: nothing of the click reached it

    wait_for(lambda: not hooks(), 120, what="the subscription deleted at Calendly")
    wait_for(
        lambda: stored(stack, person.calendly_uuid) == ("disconnected", False, False, False),
        30,
        what="the tokens erased and the clean-up done",
    )
    assert world.ours_in_close(sandbox, person) == {}
    assert revokes(sandbox) - revokes_before == 2  # the refresh token and the access token
    assert "cleanup sweep: 1 disconnect clean-ups enqueued" in worker.log.read_text()
    assert worker.alive() and beat.alive()
