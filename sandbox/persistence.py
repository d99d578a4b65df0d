"""Keeping the sandbox's world across restarts (`--state-file`): `make run` restarted to change a
setting finds the same people, links and OAuth grants, so the demo account's tokens still work.

The file is JSON of the records alone; the indexes are rebuilt through the store's own `add_*`
methods on load. It is written after every request that may have changed something, to a
temporary file first and then renamed over the old one, so a crash leaves the old or the new
state, never half of one. The random generator's state is kept too, so ids made after a restart
never repeat earlier ones.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .store import (
    AccessToken,
    AuthCode,
    CalendlyOrg,
    CalendlyUser,
    CloseLink,
    CloseOrg,
    CloseSharedLink,
    CloseUser,
    EventType,
    RefreshToken,
    SavvyLink,
    SavvyScope,
    SavvyUser,
    Store,
    WebhookSubscription,
)

FORMAT = 1

# Store attribute -> (record class, the field it is keyed by). Links and event types go through
# the store's add methods, which keep their indexes.
RECORDS: dict[str, tuple[type, str]] = {
    "close_orgs": (CloseOrg, "id"),
    "close_users": (CloseUser, "id"),
    "close_links": (CloseLink, "id"),
    "close_shared_links": (CloseSharedLink, "id"),
    "calendly_orgs": (CalendlyOrg, "uuid"),
    "calendly_users": (CalendlyUser, "uuid"),
    "event_types": (EventType, "uuid"),
    "webhook_subscriptions": (WebhookSubscription, "uuid"),
    "savvy_users": (SavvyUser, "id"),
    "savvy_scopes": (SavvyScope, "id"),
    "savvy_links": (SavvyLink, "id"),
    "codes": (AuthCode, "code"),
    "access_tokens": (AccessToken, "token"),
    "refresh_tokens": (RefreshToken, "token"),
}


def dump(store: Store) -> dict[str, Any]:
    """The store as JSON-ready data; the caller holds `store.lock`."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "seq": store.seq,
        "rng": store.rng.getstate(),
        "savvy_pats": dict(store.savvy_pats),
    }
    for name in RECORDS:
        data[name] = [asdict(record) for record in getattr(store, name).values()]
    return data


def load(data: dict[str, Any]) -> Store:
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown sandbox state format {data.get('format')!r}")
    store = Store()
    store.seq = data["seq"]
    version, internal, gauss = data["rng"]
    store.rng.setstate((version, tuple(internal), gauss))
    store.savvy_pats = dict(data["savvy_pats"])
    for name, (cls, key) in RECORDS.items():
        for values in data.get(name, []):
            record = cls(**values)
            if name == "close_links":
                store.add_close_link(record)
            elif name == "event_types":
                store.add_event_type(record)
            elif name == "savvy_links":
                store.add_savvy_link(record)
            else:
                getattr(store, name)[getattr(record, key)] = record
    return store


def save(store: Store, path: Path) -> None:
    with store.lock:
        text = json.dumps(dump(store))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: Path) -> Store | None:
    """The saved store, or None when there is no file yet."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return load(json.loads(text))
