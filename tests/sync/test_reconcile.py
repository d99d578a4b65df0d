"""The pure reconcile: desired links and Close's links in, actions out."""

from worker.sync.links import DesiredLink
from worker.sync.reconcile import Desired, normalize_url, plan, plan_one

USER = "user_A"
OURS = "oa2client_ours"


def desired_link(ext="E1", provider="calendly", **overrides):
    values = {
        "provider": provider,
        "external_id": ext,
        "source_id": f"{provider}:{ext}:{USER}",
        "name": f"Meeting {ext}",
        "url": f"https://calendly.com/a/{ext.lower()}",
        "description": None,
        "duration_in_minutes": 30,
        "source_type": "Calendly · Solo" if provider == "calendly" else "SavvyCal",
    }
    values.update(overrides)
    return DesiredLink(**values)


def close_copy(link: DesiredLink, **overrides):
    """What Close holds after our upsert of `link`."""
    values = {
        "id": f"schlnk_{link.external_id}",
        "source": "THIRD_PARTY",
        "type": "USER",
        "user_id": USER,
        "oauth_client_id": OURS,
        **link.payload(),
    }
    values.update(overrides)
    return values


def desired_of(*links, held=(), skipped=()):
    return Desired(
        links={link.source_id: link for link in links},
        skipped=set(skipped),
        held_providers=set(held),
    )


def run(desired, close_links, known=()):
    return plan(
        desired, close_links, close_user_id=USER, our_client_id=OURS, known_source_ids=set(known)
    )


def test_first_sync_creates_every_desired_link():
    result = run(desired_of(desired_link("E1"), desired_link("E2")), [])
    assert [u.link.external_id for u in result.upserts] == ["E1", "E2"]
    assert all(u.create for u in result.upserts)
    assert result.deletes == []


def test_noop_reconcile_writes_nothing():
    links = [desired_link("E1"), desired_link("S1", provider="savvycal")]
    result = run(desired_of(*links), [close_copy(link) for link in links])
    assert result.writes == 0
    assert result.unchanged == 2


def test_one_changed_link_makes_exactly_one_write():
    e1, e2 = desired_link("E1"), desired_link("E2")
    renamed = desired_link("E2", name="Renamed")
    result = run(desired_of(e1, renamed), [close_copy(e1), close_copy(e2)])
    assert result.writes == 1
    assert result.upserts[0].link == renamed and not result.upserts[0].create


def test_hand_edit_in_close_is_repaired():
    e1 = desired_link("E1")
    result = run(desired_of(e1), [close_copy(e1, name="edited by hand", duration_in_minutes=99)])
    assert [u.link for u in result.upserts] == [e1]


def test_link_deleted_by_hand_in_close_is_put_back():
    e1 = desired_link("E1")
    result = run(desired_of(e1), [])
    assert result.upserts[0].create


def test_comparison_normalizes_url_case_trailing_slash_and_empty_description():
    e1 = desired_link("E1", url="https://calendly.com/a/e1", description=None)
    held = close_copy(e1, url="HTTPS://Calendly.COM/a/e1/", description="")
    assert run(desired_of(e1), [held]).writes == 0


def test_url_path_case_is_significant():
    e1 = desired_link("E1", url="https://calendly.com/a/e1")
    assert run(desired_of(e1), [close_copy(e1, url="https://calendly.com/A/E1")]).writes == 1


def test_our_link_no_longer_desired_is_deleted():
    e1, gone = desired_link("E1"), desired_link("GONE")
    result = run(desired_of(e1), [close_copy(e1), close_copy(gone)])
    assert result.deletes == [gone.source_id]


def test_links_of_a_failed_provider_are_neither_updated_nor_deleted():
    s1 = desired_link("S1", provider="savvycal")
    stale = close_copy(desired_link("S2", provider="savvycal"))
    result = run(desired_of(held=["savvycal"]), [close_copy(s1, name="old"), stale])
    assert result.writes == 0


def test_a_failed_provider_does_not_stop_the_other_providers_changes():
    e1 = desired_link("E1")
    s_stale = close_copy(desired_link("S2", provider="savvycal"))
    result = run(desired_of(e1, held=["savvycal"]), [s_stale])
    assert [u.link for u in result.upserts] == [e1]
    assert result.deletes == []


def test_skipped_item_keeps_the_link_already_in_close():
    e1 = desired_link("E1")
    result = run(desired_of(skipped=[e1.source_id]), [close_copy(e1)])
    assert result.writes == 0


def test_manual_calendly_and_other_apps_links_are_never_touched():
    e1 = desired_link("E1")
    foreign = [
        {**close_copy(e1), "id": "m", "source": "MANUAL", "oauth_client_id": None},
        {
            **close_copy(desired_link("X")),
            "id": "c",
            "source": "CALENDLY",
            "oauth_client_id": None,
            "url": "https://calendly.com/other",
        },
        {**close_copy(desired_link("Y")), "id": "o", "oauth_client_id": "oa2client_other_app"},
    ]
    result = run(desired_of(), foreign)
    assert result.deletes == [] and result.upserts == []


def test_link_with_a_known_source_id_is_ours_even_before_the_client_id_is_known():
    gone = close_copy(desired_link("GONE"), oauth_client_id="oa2client_ours")
    result = plan(
        desired_of(),
        [gone],
        close_user_id=USER,
        our_client_id=None,
        known_source_ids={gone["source_id"]},
    )
    assert result.deletes == [gone["source_id"]]


def test_other_users_links_are_not_counted():
    e1 = desired_link("E1")
    theirs = close_copy(e1, user_id="user_B")
    result = run(desired_of(e1), [theirs, close_copy(desired_link("Z"), user_id="user_B")])
    assert [u.create for u in result.upserts] == [True]
    assert result.deletes == []


def test_calendly_link_close_already_holds_natively_is_not_pushed():
    e1 = desired_link("E1", url="https://calendly.com/a/e1")
    native = {
        "id": "n",
        "source": "CALENDLY",
        "user_id": USER,
        "url": "https://calendly.com/a/e1/",
        "source_id": "fe72",
        "oauth_client_id": None,
        "name": "x",
    }
    result = run(desired_of(e1), [native])
    assert result.writes == 0


def test_our_duplicate_of_a_native_calendly_link_is_deleted_when_the_native_one_appears():
    e1 = desired_link("E1", url="https://calendly.com/a/e1")
    native = {
        "id": "n",
        "source": "CALENDLY",
        "user_id": USER,
        "url": "https://calendly.com/a/e1",
        "source_id": "fe72",
        "oauth_client_id": None,
        "name": "x",
    }
    result = run(desired_of(e1), [native, close_copy(e1)])
    assert result.deletes == [e1.source_id]
    assert result.upserts == []


def test_savvycal_links_are_pushed_even_if_a_native_calendly_link_has_the_same_url():
    s1 = desired_link("S1", provider="savvycal", url="https://calendly.com/a/e1")
    native = {
        "id": "n",
        "source": "CALENDLY",
        "user_id": USER,
        "url": "https://calendly.com/a/e1",
        "source_id": "fe72",
        "oauth_client_id": None,
    }
    assert run(desired_of(s1), [native]).writes == 1


def test_two_close_users_hosting_one_round_robin_each_get_their_own_link():
    shared_a = desired_link("RR", source_type="Calendly · Round Robin")
    shared_b = DesiredLink(**{**shared_a.__dict__, "source_id": "calendly:RR:user_B"})
    result_a = run(desired_of(shared_a), [])
    result_b = plan(
        desired_of(shared_b), [], close_user_id="user_B", our_client_id=OURS, known_source_ids=set()
    )
    assert result_a.upserts[0].link.source_id != result_b.upserts[0].link.source_id


def test_ours_with_an_unknown_provider_prefix_is_kept_while_any_provider_failed():
    odd = close_copy(desired_link("Q"), source_id="legacy-123")
    assert run(desired_of(held=["savvycal"]), [odd]).deletes == []
    assert run(desired_of(), [odd]).deletes == ["legacy-123"]


def test_targeted_plan_applies_the_same_rules_as_a_full_plan():
    e1 = desired_link("E1")
    others = [close_copy(desired_link("E2")), close_copy(desired_link("E3"))]
    result = plan_one(
        e1.source_id,
        None,
        [close_copy(e1), *others],
        close_user_id=USER,
        our_client_id=OURS,
        known_source_ids=set(),
    )
    assert result.deletes == [e1.source_id]  # the others are not its business
    result = plan_one(
        e1.source_id,
        e1,
        [close_copy(e1, name="old")],
        close_user_id=USER,
        our_client_id=OURS,
        known_source_ids=set(),
    )
    assert [u.link for u in result.upserts] == [e1]


def test_normalize_url_drops_the_trailing_slash_and_lowercases_scheme_and_host():
    assert normalize_url("HTTPS://Calendly.com/Acme/30min/") == "https://calendly.com/Acme/30min"
    assert normalize_url("") is None
