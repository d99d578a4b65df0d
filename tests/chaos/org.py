"""One organization of reps on the sandbox, connected to a running stack, and the check that Close
holds exactly what CONTRACT §4 asks for each of them. Shared by the chaos tests and
bench/pacing.py.

Accounts are stored the way the OAuth callbacks store them (worker.auth.accounts), with real grants
from the sandbox's consent and token endpoints; SavvyCal is connected with each person's personal
token, as the connect page allows.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
import requests

from tests.processes import Stack
from worker import runtime
from worker.auth.accounts import store_close_account, store_connection
from worker.config import Settings, load_settings
from worker.providers.oauth import grant_from

ADMIN_TOKEN = "stack-admin-token"  # tests/processes.py gives every stack this one
REDIRECT = "http://127.0.0.1/oauth/{provider}/callback"
CALENDLY_KINDS = {
    "round_robin": "Calendly · Round Robin",
    "collective": "Calendly · Collective",
    "multi_pool": "Calendly · Multi-Pool",
}


@dataclass(frozen=True)
class Rep:
    account_id: int
    close_user_id: str
    email: str
    calendly_user_uuid: str
    savvycal_user_id: str


class Sandbox:
    """The sandbox's control API, as far as these tests use it."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, f"{self.base}/_sandbox{path}", timeout=30, **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def env(self) -> dict[str, str]:
        return self.call("GET", "/env")

    def seed_scale(self, users: int, event_types: int, savvycal_links: int) -> list[dict]:
        body = {
            "users": users,
            "event_types_per_user": event_types,
            "savvycal_links_per_user": savvycal_links,
        }
        return self.call("POST", "/seed/scale", json=body)["users"]

    def rate_limit(self, provider: str, limit: int, window_seconds: float) -> None:
        body = {"provider": provider, "limit": limit, "window_seconds": window_seconds}
        self.call("POST", "/ratelimits", json=body)

    def faults(self, **fault: Any) -> None:
        self.call("POST", "/faults", json=fault)

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def traffic(self) -> dict:
        return self.call("GET", "/requests")

    def clear_traffic(self) -> None:
        self.call("DELETE", "/requests")

    def state(self) -> dict:
        return self.call("GET", "/state")


# --- bringing an organization up ------------------------------------------------------------


def bring_up(
    stack: Stack,
    *,
    users: int,
    event_types: int,
    savvycal_links: int,
    env: dict[str, str] | None = None,
) -> tuple[Sandbox, list[Rep]]:
    """Start the sandbox, point the stack at it, migrate, and connect a new organization of
    `users` people. Starts none of the service's processes."""
    _, base = stack.start_sandbox()
    sandbox = Sandbox(base)
    stack.env_overrides.update({**sandbox.env(), **(env or {})})
    stack.migrate()
    people = sandbox.seed_scale(users, event_types, savvycal_links)
    return sandbox, connect_org(sandbox, stack.env, people)


def wait_converged(sandbox: Sandbox, reps: list[Rep], timeout: float) -> float:
    """Seconds until Close holds exactly the desired links of every rep; fails after `timeout`
    naming what still differs."""
    started = time.monotonic()
    left: dict = {}
    while time.monotonic() - started < timeout:
        left = differences(sandbox.state(), reps)
        if not left:
            return time.monotonic() - started
        time.sleep(0.5)
    sample = dict(list(left.items())[:3])
    raise AssertionError(f"{len(left)} of {len(reps)} accounts differ after {timeout} s: {sample}")


# --- connecting reps ------------------------------------------------------------------------


def stack_settings(env: dict[str, str]) -> Settings:
    """The settings the stack's processes load, so this process writes the same database."""
    return load_settings(env, dotenv=False)


def _consent(http: requests.Session, url: str, params: dict[str, str]) -> str:
    answer = http.post(url, data={**params, "decision": "allow"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def close_grant(env: dict[str, str], close_user_id: str) -> dict:
    http, redirect = requests.Session(), REDIRECT.format(provider="close")
    params = {
        "client_id": env["CLOSE_CLIENT_ID"],
        "response_type": "code",
        "redirect_uri": redirect,
        "scope": "all.full_access offline_access",
        "state": "chaos",
        "user_id": close_user_id,
    }
    code = _consent(http, env["CLOSE_AUTHORIZE_URL"], params)
    form = {
        "client_id": env["CLOSE_CLIENT_ID"],
        "client_secret": env["CLOSE_CLIENT_SECRET"],
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
    }
    answer = http.post(env["CLOSE_TOKEN_URL"], data=form, timeout=10)
    answer.raise_for_status()
    return answer.json()


def calendly_grant(env: dict[str, str], calendly_user_uuid: str) -> dict:
    http, redirect = requests.Session(), REDIRECT.format(provider="calendly")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "client_id": env["CALENDLY_CLIENT_ID"],
        "response_type": "code",
        "redirect_uri": redirect,
        "state": "chaos",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
        "user_id": calendly_user_uuid,
    }
    code = _consent(http, f"{env['CALENDLY_AUTH_URL']}/oauth/authorize", params)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
        "code_verifier": verifier,
    }
    auth = (env["CALENDLY_CLIENT_ID"], env["CALENDLY_CLIENT_SECRET"])
    answer = http.post(f"{env['CALENDLY_AUTH_URL']}/oauth/token", data=form, auth=auth, timeout=10)
    answer.raise_for_status()
    return answer.json()


def connect(env: dict[str, str], person: dict) -> Rep:
    """What the Close, Calendly and SavvyCal (personal token) connect flows store for a person."""
    close = close_grant(env, person["close_user_id"])
    cal = calendly_grant(env, person["calendly_user_uuid"])
    stored = store_close_account(
        close_user_id=close["user_id"],
        organization_id=close["organization_id"],
        email=person["email"],
        grant=grant_from(close, "close"),
    )
    store_connection(
        stored.account_id,
        "calendly",
        grant=grant_from(cal, "calendly"),
        external_user_id=cal["owner"],
        external_org_id=cal["organization"],
        external_email=person["email"],
    )
    store_connection(
        stored.account_id,
        "savvycal",
        personal_token=person["savvycal_personal_token"],
        external_user_id=person["savvycal_user_id"],
        external_email=person["email"],
    )
    return Rep(
        stored.account_id,
        close["user_id"],
        person["email"],
        person["calendly_user_uuid"],
        person["savvycal_user_id"],
    )


def connect_org(
    sandbox: Sandbox, stack_env: dict[str, str], people: list[dict], threads: int = 8
) -> list[Rep]:
    """Connect every person; this process's runtime is pointed at the stack's database."""
    settings = stack_settings(stack_env)
    runtime.configure(settings, redis_client=redis.Redis.from_url(settings.redis_url))
    env = sandbox.env()
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda person: connect(env, person), people))


# --- what Close should hold -----------------------------------------------------------------


def _text_or_none(value: str | None) -> str | None:
    return value or None


def desired(state: dict, rep: Rep) -> list[tuple]:
    """CONTRACT §4 for one rep, worked out from what the sandbox's Calendly and SavvyCal hold."""
    wanted = []
    for et in state["calendly"]["event_types"]:
        if rep.calendly_user_uuid not in et["hosts"]:
            continue
        if not et["active"] or et["deleted_at"] or et["type"] != "StandardEventType":
            continue
        if et["pooling_type"]:
            kind = CALENDLY_KINDS[et["pooling_type"]]
        else:
            kind = "Calendly · Solo" if et["kind"] == "solo" else "Calendly · Group"
        wanted.append(
            (
                f"calendly:{_uuid(et)}:{rep.close_user_id}",
                et["name"],
                et["scheduling_url"],
                _text_or_none(et["description_plain"]),
                et["duration"],
                kind,
            )
        )
    for link in state["savvycal"]["links"]:
        # Scale people hold personal links only, so owner = the person's links (no team scopes).
        if link["owner_id"] != rep.savvycal_user_id or link["state"] != "active":
            continue
        if not link["name"] or not link["booking_url"]:
            continue
        duration = link["default_duration"] or (link["durations"] or [None])[0]
        wanted.append(
            (
                f"savvycal:{link['id']}:{rep.close_user_id}",
                link["name"],
                link["booking_url"],
                _text_or_none(link["description"]),
                duration,
                "SavvyCal",
            )
        )
    return sorted(wanted)


def held(state: dict, rep: Rep) -> list[tuple]:
    """Our links in the rep's Close, duplicates kept (so a duplicate shows as a difference)."""
    ours = state["close"]["oauth_client_id"]
    return sorted(
        (
            link["source_id"],
            link["name"],
            link["url"],
            _text_or_none(link["description"]),
            link["duration_in_minutes"],
            link["source_type"],
        )
        for link in state["close"]["links"]
        if link["user_id"] == rep.close_user_id
        and link["source"] == "THIRD_PARTY"
        and link["oauth_client_id"] == ours
    )


def differences(state: dict, reps: list[Rep]) -> dict[str, dict[str, list]]:
    """Per rep whose Close differs: what is missing and what is extra (duplicates count)."""
    found = {}
    for rep in reps:
        want, have = Counter(desired(state, rep)), Counter(held(state, rep))
        if want != have:
            found[rep.close_user_id] = {
                "missing": sorted((want - have).elements()),
                "extra": sorted((have - want).elements()),
            }
    return found


def synced_count(state: dict, reps: list[Rep]) -> int:
    """How many reps' Close already holds at least one of our links."""
    return sum(1 for rep in reps if held(state, rep))


# --- changes made in the providers ---------------------------------------------------------


def change_links(sandbox: Sandbox, reps: list[Rep], threads: int = 8) -> int:
    """For every rep, in Calendly: rename two event types and deactivate one; in SavvyCal: delete
    one link and create one. A full sync then has five writes to make per rep. Returns how many
    writes Close needs in all."""
    state = sandbox.state()

    def change(rep: Rep) -> None:
        types = [
            e for e in state["calendly"]["event_types"] if rep.calendly_user_uuid in e["hosts"]
        ]
        links = [s for s in state["savvycal"]["links"] if s["owner_id"] == rep.savvycal_user_id]
        for et in types[:2]:
            sandbox.call("PATCH", f"/calendly/event_types/{_uuid(et)}", json={"name": "Renamed"})
        sandbox.call("PATCH", f"/calendly/event_types/{_uuid(types[2])}", json={"active": False})
        sandbox.call("DELETE", f"/savvycal/links/{links[0]['id']}")
        body = {"user": rep.email, "name": "New link", "durations": [20], "default_duration": 20}
        sandbox.call("POST", "/savvycal/links", json=body)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(change, reps))
    return 5 * len(reps)


def _uuid(event_type: dict) -> str:
    return event_type["uri"].rsplit("/", 1)[-1]


# --- driving the stack ----------------------------------------------------------------------


def admin_resync(web: str, body: dict | None = None) -> dict:
    answer = requests.post(
        f"{web}/admin/resync",
        json=body or {},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    return answer.json()


def admin_accounts(web: str) -> list[dict]:
    answer = requests.get(
        f"{web}/admin/accounts", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    )
    answer.raise_for_status()
    return answer.json()["accounts"]


def resync_finished(web: str, requested_at: str) -> list[dict] | None:
    """Every account once its resync has finished (CONTRACT §3: `last_sync.started_at` at or
    after `requested_at` and not `running`), else None."""
    accounts = admin_accounts(web)
    for account in accounts:
        last = account["last_sync"]
        if not last or last["started_at"] < requested_at or last["outcome"] == "running":
            return None
    return accounts
