"""SENTRY_DSN on: errors go to Sentry through its Flask and Celery integrations; off: Sentry is
not even initialized. No network: events are kept by an in-memory transport."""

from __future__ import annotations

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from worker import sentry

DSN = "https://public@sentry.example.test/1"


class KeptEnvelopes(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def events(self):
        return [
            item.payload.json
            for env in self.envelopes
            for item in env.items
            if item.type == "event"
        ]


@pytest.fixture
def transport(monkeypatch):
    kept = KeptEnvelopes()
    real_init = sentry_sdk.init
    monkeypatch.setattr(sentry_sdk, "init", lambda **kw: real_init(transport=kept, **kw))
    monkeypatch.setattr(sentry, "_initialized_with", None)
    yield kept
    real_init()  # no DSN: the SDK is switched off again for the tests that follow
    sentry._initialized_with = None


def test_without_a_dsn_sentry_is_not_initialized(settings, fake_redis, db, transport):
    from web import create_app

    create_app(settings, redis_client=fake_redis)

    assert not sentry_sdk.get_client().is_active()


def test_with_a_dsn_errors_of_a_request_reach_sentry_without_secrets(
    settings, fake_redis, db, transport
):
    from web import create_app

    app = create_app(settings.with_overrides(sentry_dsn=DSN), redis_client=fake_redis)

    def boom():
        # A local that must not travel with the event (built here: the source lines do travel).
        held = "-".join(["secret", "token", "value"])
        raise RuntimeError(f"kaput {len(held)}")

    app.add_url_rule("/admin/boom", view_func=boom)
    client = sentry_sdk.get_client()
    assert client.is_active()
    assert {"flask", "celery"} <= set(client.integrations)

    response = app.test_client().get(
        "/admin/boom", headers={"Authorization": "Bearer test-admin-token"}
    )
    sentry_sdk.flush()

    assert response.status_code == 500
    events = transport.events()
    assert any(
        v["type"] == "RuntimeError"
        for e in events
        for v in (e.get("exception") or {}).get("values", [])
    ), events
    assert "secret-token-value" not in repr(events)
    assert "test-admin-token" not in repr(events)
