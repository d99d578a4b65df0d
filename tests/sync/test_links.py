"""Every row of the CONTRACT §4 mapping, and which external links are synced."""

import pytest

from worker.providers.calendly.links import calendly_selection
from worker.providers.savvycal.links import savvycal_selection

USER = "user_N6Kh"
BOOKING = "https://savvycal.com"


def event_type(**overrides):
    base = {
        "uri": "https://api.calendly.com/event_types/AAAAAAAAAAAAAAAA",
        "name": "30 Minute Meeting",
        "active": True,
        "scheduling_url": "https://calendly.com/acme/30min",
        "duration": 30,
        "kind": "solo",
        "pooling_type": None,
        "type": "StandardEventType",
        "description_plain": "Let's talk",
        "deleted_at": None,
        "secret": False,
    }
    base.update(overrides)
    return base


def savvy_link(**overrides):
    base = {
        "id": "link_01ED74HMFGVZ92YVCWTD8Y8H6X",
        "state": "active",
        "slug": "chat",
        "name": "Chat with John",
        "description": "Let's find a time to meet!",
        "durations": [15, 30, 45],
        "default_duration": 30,
        "scope": {"id": "scope_1", "name": "John Daker", "slug": "john"},
    }
    base.update(overrides)
    return base


def only(selection):
    assert len(selection.links) == 1
    return next(iter(selection.links.values()))


def test_calendly_event_type_maps_every_field():
    link = only(calendly_selection([event_type()], USER))
    assert link.payload() == {
        "source_id": f"calendly:AAAAAAAAAAAAAAAA:{USER}",
        "name": "30 Minute Meeting",
        "url": "https://calendly.com/acme/30min",
        "description": "Let's talk",
        "duration_in_minutes": 30,
        "source_type": "Calendly · Solo",
    }


@pytest.mark.parametrize("description", ["", None])
def test_calendly_empty_or_missing_description_becomes_null(description):
    link = only(calendly_selection([event_type(description_plain=description)], USER))
    assert link.description is None


@pytest.mark.parametrize(
    ("pooling_type", "kind", "expected"),
    [
        ("round_robin", "group", "Calendly · Round Robin"),
        ("collective", "group", "Calendly · Collective"),
        ("multi_pool", "group", "Calendly · Multi-Pool"),
        (None, "solo", "Calendly · Solo"),
        (None, "group", "Calendly · Group"),
    ],
)
def test_calendly_source_type_follows_pooling_type_then_kind(pooling_type, kind, expected):
    link = only(calendly_selection([event_type(pooling_type=pooling_type, kind=kind)], USER))
    assert link.source_type == expected


@pytest.mark.parametrize(
    "overrides",
    [{"active": False}, {"deleted_at": "2026-01-01T00:00:00Z"}, {"type": "AdhocEventType"}],
)
def test_calendly_inactive_deleted_and_adhoc_event_types_are_not_links(overrides):
    selection = calendly_selection([event_type(**overrides)], USER)
    assert selection.links == {}
    assert selection.skipped == set()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"active": False}, "inactive"),
        ({"deleted_at": "2026-01-01T00:00:00Z"}, "deleted"),
        ({"type": "AdhocEventType"}, "ad_hoc"),
        ({"scheduling_url": None}, "no_url"),
    ],
)
def test_calendly_items_left_out_say_why_by_name(overrides, reason):
    (item,) = calendly_selection([event_type(**overrides)], USER).not_synced
    assert (item.name, item.reason) == ("30 Minute Meeting", reason)
    assert item.source_id == f"calendly:AAAAAAAAAAAAAAAA:{USER}"


def test_calendly_warning_names_the_event_type_not_its_id():
    (warning,) = calendly_selection([event_type(scheduling_url=None)], USER).warnings
    assert warning == "Calendly event type “30 Minute Meeting” has no URL; skipped"


def test_a_synced_event_type_is_not_in_the_not_synced_list():
    assert calendly_selection([event_type()], USER).not_synced == []


def test_calendly_secret_event_types_are_included():
    assert only(calendly_selection([event_type(secret=True)], USER)).name == "30 Minute Meeting"


@pytest.mark.parametrize("missing", ["name", "scheduling_url"])
def test_calendly_event_type_without_name_or_url_is_skipped_with_a_warning(missing):
    selection = calendly_selection([event_type(**{missing: None})], USER)
    assert selection.links == {}
    assert selection.skipped == {f"calendly:AAAAAAAAAAAAAAAA:{USER}"}
    assert len(selection.warnings) == 1


def test_same_round_robin_event_type_gives_each_close_user_their_own_source_id():
    shared = event_type(pooling_type="round_robin", kind="group")
    a = only(calendly_selection([shared], "user_A"))
    b = only(calendly_selection([shared], "user_B"))
    assert a.source_id == "calendly:AAAAAAAAAAAAAAAA:user_A"
    assert b.source_id == "calendly:AAAAAAAAAAAAAAAA:user_B"


def test_savvycal_link_maps_every_field():
    link = only(savvycal_selection([savvy_link()], USER, BOOKING))
    assert link.payload() == {
        "source_id": f"savvycal:link_01ED74HMFGVZ92YVCWTD8Y8H6X:{USER}",
        "name": "Chat with John",
        "url": "https://savvycal.com/john/chat",
        "description": "Let's find a time to meet!",
        "duration_in_minutes": 30,
        "source_type": "SavvyCal",
    }


def test_savvycal_booking_url_ignores_a_trailing_slash_on_the_base():
    link = only(savvycal_selection([savvy_link()], USER, "https://book.example.com/"))
    assert link.url == "https://book.example.com/john/chat"


@pytest.mark.parametrize(
    ("default_duration", "durations", "expected"),
    [(45, [15, 30], 45), (None, [15, 30], 15), (None, [], None), (None, None, None)],
)
def test_savvycal_duration_is_default_else_first_else_null(default_duration, durations, expected):
    link = only(
        savvycal_selection(
            [savvy_link(default_duration=default_duration, durations=durations)], USER, BOOKING
        )
    )
    assert link.duration_in_minutes == expected


@pytest.mark.parametrize("description", ["", None])
def test_savvycal_empty_description_becomes_null(description):
    assert (
        only(savvycal_selection([savvy_link(description=description)], USER, BOOKING)).description
        is None
    )


def test_savvycal_disabled_links_are_not_synced():
    assert savvycal_selection([savvy_link(state="disabled")], USER, BOOKING).links == {}


def test_savvycal_disabled_and_unscoped_links_say_why():
    selection = savvycal_selection(
        [savvy_link(state="disabled"), savvy_link(id="link_2", scope=None)], USER, BOOKING
    )
    assert [i.reason for i in selection.not_synced] == ["disabled", "no_scope"]
    assert "link_2" not in selection.warnings[0]
    assert selection.warnings[0].startswith("SavvyCal link “")


def test_savvycal_link_without_scope_is_skipped_with_a_warning():
    selection = savvycal_selection([savvy_link(scope=None)], USER, BOOKING)
    assert selection.links == {}
    assert selection.skipped == {f"savvycal:link_01ED74HMFGVZ92YVCWTD8Y8H6X:{USER}"}
    assert "no URL" in selection.warnings[0]
