"""SENTRY_DSN on: errors go to Sentry through its Flask and Celery integrations; off: Sentry is
not even initialized. No network: events are kept by an in-memory transport. The DSN-on case runs
in a process of its own, since Sentry's integrations patch Flask and Celery for the whole process
(a Celery message would carry its trace headers in every later test)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import sentry_sdk

from tests.processes import ROOT

DSN = "https://public@sentry.example.test/1"

WITH_DSN = textwrap.dedent(
    """
    import json, sys, tempfile
    from pathlib import Path

    import fakeredis
    import sentry_sdk
    from sentry_sdk.transport import Transport

    from tests.conftest import make_settings
    from worker import runtime
    from worker.storage import migrate

    class Kept(Transport):
        def __init__(self, options=None):
            super().__init__(options)
            self.envelopes = []

        def capture_envelope(self, envelope):
            self.envelopes.append(envelope)

    kept = Kept()
    real_init = sentry_sdk.init
    sentry_sdk.init = lambda **kw: real_init(transport=kept, **kw)

    settings = make_settings(Path(tempfile.mkdtemp()), sentry_dsn=sys.argv[1])
    runtime.configure(settings, redis_client=fakeredis.FakeRedis())
    migrate.upgrade(runtime.engine())
    from web import create_app

    app = create_app(settings, redis_client=fakeredis.FakeRedis())

    def boom():
        # A local that must not travel with the event (built here: source lines do travel).
        held = "-".join(["secret", "token", "value"])
        raise RuntimeError(f"kaput {len(held)}")

    app.add_url_rule("/admin/boom", view_func=boom)
    status = app.test_client().get(
        "/admin/boom", headers={"Authorization": "Bearer test-admin-token"}
    ).status_code
    sentry_sdk.flush()
    client = sentry_sdk.get_client()
    events = [
        item.payload.json
        for envelope in kept.envelopes
        for item in envelope.items
        if item.type == "event"
    ]
    print(json.dumps({
        "active": client.is_active(),
        "integrations": sorted(client.integrations),
        "status": status,
        "events": events,
    }, default=str))
    """
)


def test_without_a_dsn_sentry_is_not_initialized(settings, fake_redis, db):
    from web import create_app

    create_app(settings, redis_client=fake_redis)

    assert not sentry_sdk.get_client().is_active()


@pytest.mark.slow
def test_with_a_dsn_errors_of_a_request_reach_sentry_without_secrets():
    done = subprocess.run(
        [sys.executable, "-c", WITH_DSN, DSN],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["active"] is True
    assert {"flask", "celery"} <= set(report["integrations"])
    assert report["status"] == 500
    events = report["events"]
    assert any(
        v["type"] == "RuntimeError"
        for e in events
        for v in (e.get("exception") or {}).get("values", [])
    ), events
    assert "secret-token-value" not in json.dumps(events)
    assert "test-admin-token" not in json.dumps(events)
