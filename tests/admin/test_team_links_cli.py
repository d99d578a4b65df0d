"""`flask --app web team-links list|create|delete`, with the queued tasks run at once against
provider fakes: a rep is mapped on create and unmapped on delete."""

from __future__ import annotations

import pytest
import responses

from tests.conftest import add_account
from tests.sync.fake_shared_links import FakeSharedLinks
from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from worker.sync.full import full_sync


@pytest.fixture
def eager(settings, fake_redis, db):
    from web import create_app

    app = create_app(settings.with_overrides(celery_always_eager=True), redis_client=fake_redis)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        close = FakeClose(rsps)
        FakeSavvyCal(rsps)
        yield (
            app.test_cli_runner(),
            close,
            FakeCalendly(rsps),
            FakeSharedLinks(rsps, close, admins={"user_admin"}),
        )
    from worker.celery_app import apply_settings, celery_app

    apply_settings(celery_app, settings)


def test_create_list_and_delete_a_team_link(eager):
    runner, close, calendly, shared = eager
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    calendly.add("E1", name="Intro", slug="intro-call")
    full_sync(rep)

    created = runner.invoke(
        args=[
            "team-links",
            "create",
            "--organization",
            "orga_1",
            "--name",
            "Intro call",
            "--calendly-slug",
            "intro-call",
        ]
    )

    assert created.exit_code == 0, created.output
    assert "template tag intro_call" in created.output
    intro = next(link["id"] for link in close.of("user_A") if link["name"] == "Intro")
    assert shared.mapped("user_A") == intro
    listed = runner.invoke(args=["team-links", "list"])
    assert "'Intro call' tag=intro_call calendly=intro-call savvycal=None active" in listed.output
    assert "user_A: mapped calendly:E1:user_A" in listed.output
    assert "user_admin: unmatched" in listed.output

    deleted = runner.invoke(args=["team-links", "delete", "1"])

    assert deleted.exit_code == 0, deleted.output
    assert shared.shared == {} and shared.mappings == {}
    assert runner.invoke(args=["team-links", "list"]).output == ""


def test_create_with_nobody_permitted_fails_and_says_why(eager):
    runner, *_ = eager
    add_account("user_A")

    result = runner.invoke(
        args=[
            "team-links",
            "create",
            "--organization",
            "orga_1",
            "--name",
            "X",
            "--savvycal-slug",
            "x",
        ]
    )

    assert result.exit_code == 1
    assert "no signed-in user of that organization may create shared links" in result.output


def test_create_without_a_slug_is_a_usage_error(eager):
    runner, *_ = eager

    result = runner.invoke(args=["team-links", "create", "--organization", "orga_1", "--name", "X"])

    assert result.exit_code == 2
    assert "at least one of" in result.output
