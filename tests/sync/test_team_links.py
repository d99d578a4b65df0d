"""The team-link mapping reconcile, as a pure function: every case of CONTRACT §6."""

from __future__ import annotations

from worker.sync.team_links import (
    ERROR,
    MAPPED,
    UNMATCHED,
    LastMapped,
    MappingChange,
    Rule,
    SyncedLink,
    no_match_reason,
    plan_mappings,
    resolve,
)

INTRO = Rule(1, calendly_slug="intro-call", savvycal_slug="intro-call")


def calendly(slug: str, close_id: str = "schlnk_cal") -> SyncedLink:
    return SyncedLink("calendly", f"calendly:ET_{slug}:user_A", slug, close_id)


def savvycal(slug: str, close_id: str = "schlnk_savvy") -> SyncedLink:
    return SyncedLink("savvycal", f"savvycal:link_{slug}:user_A", slug, close_id)


def test_a_matching_calendly_event_type_is_mapped():
    link = calendly("intro-call")

    assert plan_mappings([INTRO], [link, calendly("demo", "schlnk_demo")], {}) == [
        MappingChange(1, "map", link)
    ]


def test_calendly_is_chosen_before_savvycal():
    cal, savvy = calendly("intro-call"), savvycal("intro-call")

    (change,) = plan_mappings([INTRO], [savvy, cal], {})

    assert change.target == cal


def test_savvycal_is_the_fallback_when_calendly_has_no_such_slug():
    savvy = savvycal("intro-call")

    (change,) = plan_mappings([INTRO], [calendly("demo"), savvy], {})

    assert change == MappingChange(1, "map", savvy)


def test_each_provider_is_matched_on_its_own_slug():
    rule = Rule(2, calendly_slug="30min", savvycal_slug="chat")
    savvy = savvycal("chat")

    assert resolve(rule, [calendly("chat", "x"), savvy], set()).target == savvy
    assert resolve(rule, [savvycal("30min")], set()).target is None


def test_no_match_is_recorded_without_a_call_when_never_mapped():
    (change,) = plan_mappings([INTRO], [calendly("demo")], {})

    assert change.action == "record"
    assert change.reason == "no Calendly event type or SavvyCal link with the slug intro-call"


def test_no_match_reason_names_each_slug_when_they_differ():
    assert no_match_reason(Rule(1, "30min", "chat")) == (
        "no Calendly event type with the slug 30min or SavvyCal link with the slug chat"
    )
    assert no_match_reason(Rule(1, None, "chat")) == "no SavvyCal link with the slug chat"


def test_an_unchanged_mapping_sends_nothing():
    link = calendly("intro-call")
    last = {1: LastMapped(link.close_link_id, MAPPED)}

    assert plan_mappings([INTRO], [link], last) == []


def test_a_rep_still_unmatched_sends_nothing():
    assert plan_mappings([INTRO], [], {1: LastMapped(None, UNMATCHED)}) == []


def test_a_link_recreated_under_a_new_id_is_mapped_again():
    last = {1: LastMapped("schlnk_old", MAPPED)}
    recreated = calendly("intro-call", "schlnk_new")

    assert plan_mappings([INTRO], [recreated], last) == [MappingChange(1, "map", recreated)]


def test_a_changed_slug_falls_back_to_the_savvycal_link():
    last = {1: LastMapped("schlnk_cal", MAPPED)}
    savvy = savvycal("intro-call")

    changes = plan_mappings([INTRO], [calendly("intro-call-2", "schlnk_cal"), savvy], last)

    assert changes == [MappingChange(1, "map", savvy)]


def test_a_deleted_link_with_no_fallback_is_unmapped():
    last = {1: LastMapped("schlnk_cal", MAPPED)}

    (change,) = plan_mappings([INTRO], [], last)

    assert change.action == "unmap"
    assert change.reason == no_match_reason(INTRO)


def test_a_rep_who_disconnected_calendly_is_remapped_to_savvycal_or_unmapped():
    # The caller leaves a disconnected provider's links out of `links`.
    last = {1: LastMapped("schlnk_cal", MAPPED)}
    savvy = savvycal("intro-call")

    assert plan_mappings([INTRO], [savvy], last) == [MappingChange(1, "map", savvy)]
    assert [c.action for c in plan_mappings([INTRO], [], last)] == ["unmap"]


def test_a_failed_calendly_listing_leaves_the_mapping_as_it_is():
    last = {1: LastMapped("schlnk_cal", MAPPED)}
    # Even though the (stale) links would now pick the SavvyCal link, Calendly decides first.
    links = [savvycal("intro-call")]

    assert plan_mappings([INTRO], links, last, held_providers={"calendly"}) == []
    assert plan_mappings([INTRO], [], {}, held_providers={"calendly"}) == []


def test_a_failed_savvycal_listing_does_not_hold_a_calendly_match():
    cal = calendly("intro-call")

    assert plan_mappings([INTRO], [cal], {}, held_providers={"savvycal"}) == [
        MappingChange(1, "map", cal)
    ]


def test_a_failed_savvycal_listing_holds_the_fallback():
    last = {1: LastMapped("schlnk_savvy", MAPPED)}

    assert plan_mappings([INTRO], [calendly("demo")], last, held_providers={"savvycal"}) == []


def test_a_mapping_that_failed_last_time_is_sent_again():
    link = calendly("intro-call")

    assert plan_mappings([INTRO], [link], {1: LastMapped(link.close_link_id, ERROR)}) == [
        MappingChange(1, "map", link)
    ]
    # Whether a failed map went through is unknown: with no match it is unmapped to be sure.
    assert [c.action for c in plan_mappings([INTRO], [], {1: LastMapped(None, ERROR)})] == ["unmap"]


def test_every_team_link_is_planned_on_its_own():
    demo = Rule(2, calendly_slug="demo", savvycal_slug=None)
    cal_demo = calendly("demo", "schlnk_demo")

    changes = plan_mappings([INTRO, demo], [cal_demo], {1: LastMapped(None, UNMATCHED)})

    assert changes == [MappingChange(2, "map", cal_demo)]


def test_the_answer_does_not_depend_on_the_order_links_arrive_in():
    a = SyncedLink("calendly", "calendly:A:user_A", "intro-call", "schlnk_a")
    b = SyncedLink("calendly", "calendly:B:user_A", "intro-call", "schlnk_b")

    assert resolve(INTRO, [a, b], set()).target == resolve(INTRO, [b, a], set()).target == a
