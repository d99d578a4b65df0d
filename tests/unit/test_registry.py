"""The provider registry: every registered provider says everything schedsync needs of it, and
nothing outside the provider packages has to know a provider by name."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import make_settings
from worker.providers import registry
from worker.providers.http import HttpClient
from worker.providers.spec import REQUIRED, ProviderSpec, missing_parts


@pytest.mark.parametrize("spec", registry.SCHEDULING, ids=lambda s: s.name)
def test_every_scheduling_provider_is_complete(spec, tmp_path):
    assert missing_parts(spec, scheduling=True) == []
    settings = make_settings(tmp_path)
    dialect = spec.oauth(settings)
    assert dialect.name == spec.name and dialect.token_url.startswith("https://")
    assert issubclass(spec.client_class, HttpClient)
    assert spec.client_class.provider == spec.name
    assert spec.api_url(settings).startswith("https://")


def test_close_is_complete_as_the_destination(tmp_path):
    assert missing_parts(registry.CLOSE, scheduling=False) == []
    assert registry.CLOSE.fetch_selection is None


def test_a_new_provider_missing_parts_is_named():
    bare = ProviderSpec(
        name="acme",
        display_name="",
        item_noun="thing",
        oauth=None,  # type: ignore[arg-type]
        client_class=HttpClient,
        api_url=lambda settings: "https://api.acme.test",
        identity=None,  # type: ignore[arg-type]
    )
    assert missing_parts(bare, scheduling=True) == [
        "display_name",
        "oauth",
        "identity",
        "fetch_selection",
    ]


def test_names_are_unique_and_lookups_answer_for_every_one():
    names = [registry.CLOSE.name, *registry.scheduling_names()]
    assert len(names) == len(set(names))
    for name in names:
        assert registry.spec(name).name == name
        assert registry.display_name(name) == registry.spec(name).display_name
    assert registry.is_scheduling("close") is False
    with pytest.raises(ValueError, match="unknown provider"):
        registry.spec("acme")


def test_every_spec_field_is_checked_or_has_a_default():
    # A part added to the spec without a default must be named by the completeness check.
    for field in dataclasses.fields(ProviderSpec):
        checked = field.name in (*REQUIRED, "fetch_selection")
        assert checked or field.default is not dataclasses.MISSING, field.name
