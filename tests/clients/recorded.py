"""Provider answers as recorded in tests/fixtures/<provider>/, and pages built from them.

The files hold the example payloads from the providers' documentation (reference/*.md); the
builders below stamp out many distinct items from one recorded item so that pagination tests
run on realistic objects.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def recorded(provider: str, name: str) -> Any:
    """A fresh copy of tests/fixtures/<provider>/<name>.json."""
    return json.loads((FIXTURES / provider / f"{name}.json").read_text())


def query(request) -> dict[str, str]:
    """The query string of a sent request, one value per name (asserting there is only one)."""
    values = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in values.values()), values
    return {k: v[0] for k, v in values.items()}


def sent_json(call) -> Any:
    """The JSON body of a request `responses` saw."""
    return json.loads(call.request.body)


def sent_form(call) -> dict[str, str]:
    """The form-encoded body of a request `responses` saw, one value per name."""
    values = parse_qs(call.request.body, keep_blank_values=True)
    assert all(len(v) == 1 for v in values.values()), values
    return {k: v[0] for k, v in values.items()}


def close_links(count: int) -> list[dict[str, Any]]:
    """`count` distinct THIRD_PARTY links shaped like Close's documented example."""
    template = recorded("close", "scheduling_links")["data"][1]
    links = []
    for i in range(count):
        link = copy.deepcopy(template)
        link["id"] = f"schlnk_{i:05d}"
        link["source_id"] = f"calendly:ET{i:05d}:user_N6Kh"
        link["name"] = f"Meeting {i}"
        links.append(link)
    return links


def calendly_event_types(count: int) -> list[dict[str, Any]]:
    template = recorded("calendly", "event_types")["collection"][0]
    items = []
    for i in range(count):
        item = copy.deepcopy(template)
        item["uri"] = f"https://api.calendly.com/event_types/ET{i:05d}"
        item["name"] = f"Meeting {i}"
        items.append(item)
    return items


def savvycal_links(count: int) -> list[dict[str, Any]]:
    template = recorded("savvycal", "links")["entries"][0]
    items = []
    for i in range(count):
        item = copy.deepcopy(template)
        item["id"] = f"link_{i:05d}"
        item["slug"] = f"chat-{i}"
        items.append(item)
    return items
