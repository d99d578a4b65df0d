"""docs/openapi.yaml describes the app: schemathesis sends generated requests to every route of it
(in-process, through the WSGI app) and checks that nothing answers 5xx and that every answer's
status, content type, headers and body are the ones described. The admin routes are called with
the admin token, so their authenticated answers are checked too (and, by schemathesis's own
check, that they refuse a request without it)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import add_account
from web.errors import MACHINE_PREFIXES
from worker import runtime
from worker.storage.models import (
    Account,
    LinkChange,
    LinkMapping,
    SyncRun,
    TeamLink,
    TeamLinkMapping,
    WebhookSubscription,
    utcnow,
)

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
ADMIN = {"Authorization": "Bearer test-admin-token"}  # tests/conftest.py's admin_token
KNOWN_HOOK = "hook_known_to_the_tests"  # the example hook_id in docs/openapi.yaml


def seed_known_account() -> None:
    """user_A (the description's example) with a finished sync, a pushed link and a webhook
    subscription, so the admin answers carry every field and the webhook route finds the hook."""
    account_id = add_account("user_A")
    now = utcnow()
    with runtime.session_scope() as session:
        account = session.get(Account, account_id)
        calendly = account.connection("calendly")
        session.add(
            WebhookSubscription(
                connection_id=calendly.id,
                hook_id=KNOWN_HOOK,
                signing_key="hook-signing-key",
                state="active",
            )
        )
        run = SyncRun(
            account_id=account_id,
            trigger="connect",
            started_at=now - timedelta(seconds=5),
            finished_at=now,
            outcome="partial",
            created=1,
            failed=1,
            error="savvycal: unavailable",
            warnings_json='["a SavvyCal link has no scope"]',
        )
        session.add(run)
        session.flush()
        session.add(
            LinkChange(
                run_id=run.id,
                provider="calendly",
                source_id="calendly:AAAAAAAAAAAAAAAA:user_A",
                name="30 Minute Meeting",
                action="created",
                changed_json='{"name": [null, "30 Minute Meeting"], "url": [null, "x"]}',
                at=now,
            )
        )
        session.add(
            SyncRun(account_id=account_id, kind="event_type", trigger="webhook", started_at=now)
        )
        session.add(
            LinkMapping(
                account_id=account_id,
                provider="calendly",
                source_id="calendly:AAAAAAAAAAAAAAAA:user_A",
                name="30 Minute Meeting",
                url="https://calendly.com/a/30min",
                close_link_id="schlnk_1",
                pushed_at=now,
            )
        )
        # Team link 1 (the description's example id), mapped for user_A.
        session.add(
            TeamLink(
                id=1,
                organization_id="orga_1",
                name="Intro call",
                calendly_slug="30min",
                close_shared_link_id="schlnk_shared",
                template_tag="intro_call",
                state="active",
            )
        )
        session.flush()
        session.add(
            TeamLinkMapping(
                team_link_id=1,
                account_id=account_id,
                state="mapped",
                provider="calendly",
                source_id="calendly:AAAAAAAAAAAAAAAA:user_A",
                close_link_id="schlnk_1",
            )
        )


class RunningApp:
    """The WSGI app of the test being run. schemathesis fixes a schema's app when it builds the
    tests, before any fixture exists, so the schema is given this stand-in and each test points
    it at the app its own fixtures built (schemathesis's re-sent probes go there too)."""

    def __init__(self) -> None:
        self.app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


RUNNING = RunningApp()
schema = schemathesis.openapi.from_path(OPENAPI)
schema.app = RUNNING
# A well-formed delivery to a hook nobody has is answered 410 (CONTRACT §3: Calendly deletes a
# subscription answered 410), as "not found" as a 404 is.
_acceptance = schema.config.checks.positive_data_acceptance
_acceptance.expected_statuses = [*_acceptance.expected_statuses, "410"]


@pytest.fixture
def seeded_app(app, enqueued):
    seed_known_account()
    RUNNING.app = app
    yield app
    RUNNING.app = None


@schema.parametrize()
@pytest.mark.usefixtures("seeded_app")
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_is_the_one_the_openapi_description_gives(case):
    # Each operation gets a fresh database and app (the fixtures); every example runs against it.
    headers = ADMIN if case.path.startswith(("/admin/", "/metrics")) else None
    case.call_and_validate(headers=headers, excluded_checks=excluded_checks(case.path))


def excluded_checks(path: str) -> list:
    # A browser request can match the description and still be refused (400): an OAuth
    # callback's `state` and a form's `csrf_token` are good for one browser session only, which
    # no schema can say. Every other check applies to the browser routes as well.
    if path.startswith(MACHINE_PREFIXES):
        return []
    return [positive_data_acceptance]
