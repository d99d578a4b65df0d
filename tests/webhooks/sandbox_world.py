"""One rep (the sandbox's demo user Alice) connected to the sandbox's Close and Calendly over
real HTTP, with the account rows seeded straight into the stack's SQLite file. Shared by the
end-to-end test and bench/webhook_ingest.py."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import redis
import requests
from celery import Celery

from tests.conftest import TEST_KEY
from worker import runtime
from worker.config import Settings
from worker.storage.models import Account, Connection, utcnow

REDIRECT = "http://localhost:5000/oauth/{provider}/callback"


@dataclass(frozen=True)
class Rep:
    account_id: int
    calendly_connection_id: int
    close_user_id: str
    calendly_user_uri: str


def sandbox_env(base: str) -> dict[str, str]:
    return requests.get(f"{base}/_sandbox/env", timeout=5).json()


def state(base: str) -> dict:
    return requests.get(f"{base}/_sandbox/state", timeout=5).json()


def _user_id(world: dict, provider: str, email: str) -> str:
    key = {"close": "id", "calendly": "uuid"}[provider]
    return next(u[key] for u in world[provider]["users"] if u["email"] == email)


def _consent(url: str, params: dict[str, str]) -> str:
    answer = requests.post(
        url, data={**params, "decision": "allow"}, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def close_grant(base: str, env: dict[str, str], user_id: str) -> dict:
    redirect = REDIRECT.format(provider="close")
    code = _consent(
        env["CLOSE_AUTHORIZE_URL"],
        {
            "client_id": env["CLOSE_CLIENT_ID"],
            "response_type": "code",
            "redirect_uri": redirect,
            "scope": "all.full_access offline_access",
            "state": "s",
            "user_id": user_id,
        },
    )
    answer = requests.post(
        env["CLOSE_TOKEN_URL"],
        data={
            "client_id": env["CLOSE_CLIENT_ID"],
            "client_secret": env["CLOSE_CLIENT_SECRET"],
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
        },
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()


def calendly_grant(base: str, env: dict[str, str], user_uuid: str) -> dict:
    redirect = REDIRECT.format(provider="calendly")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    code = _consent(
        f"{env['CALENDLY_AUTH_URL']}/oauth/authorize",
        {
            "client_id": env["CALENDLY_CLIENT_ID"],
            "response_type": "code",
            "redirect_uri": redirect,
            "state": "s",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            "user_id": user_uuid,
        },
    )
    answer = requests.post(
        f"{env['CALENDLY_AUTH_URL']}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        },
        auth=(env["CALENDLY_CLIENT_ID"], env["CALENDLY_CLIENT_SECRET"]),
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()


def stack_settings(tmp: Path, redis_url: str, env: dict[str, str], public_url: str) -> Settings:
    """The settings the stack's processes load, for touching its database from this process."""
    return Settings(
        env="test",
        public_url=public_url,
        database_url=f"sqlite:///{tmp / 'schedsync.db'}",
        redis_url=redis_url,
        secret_key="stack-secret-key",
        encryption_keys=(TEST_KEY,),
        close_api_url=env["CLOSE_API_URL"],
        calendly_api_url=env["CALENDLY_API_URL"],
        calendly_webhook_signing_key=env["CALENDLY_WEBHOOK_SIGNING_KEY"],
    )


def connect_rep(base: str, env: dict[str, str], settings: Settings, email: str) -> Rep:
    """OAuth grants from the sandbox for `email`, stored as an account with active Close and
    Calendly connections (what the OAuth callbacks would store)."""
    runtime.configure(settings, redis_client=redis.Redis.from_url(settings.redis_url))
    world = state(base)
    close = close_grant(base, env, _user_id(world, "close", email))
    cal = calendly_grant(base, env, _user_id(world, "calendly", email))
    now = utcnow()
    with runtime.session_scope() as session:
        account = Account(
            close_user_id=close["user_id"], organization_id=close["organization_id"], email=email
        )
        account.connections.append(
            Connection(
                provider="close",
                external_user_id=close["user_id"],
                access_token=close["access_token"],
                refresh_token=close["refresh_token"],
                token_expires_at=now + timedelta(seconds=close["expires_in"]),
            )
        )
        calendly = Connection(
            provider="calendly",
            external_user_id=cal["owner"],
            external_org_id=cal["organization"],
            access_token=cal["access_token"],
            refresh_token=cal["refresh_token"],
            token_expires_at=now + timedelta(seconds=cal["expires_in"]),
        )
        account.connections.append(calendly)
        session.add(account)
        session.flush()
        return Rep(account.id, calendly.id, close["user_id"], cal["owner"])


def send_task(redis_url: str, name: str, *args: object) -> None:
    """Enqueue by name onto the stack's broker, as the web process would."""
    app = Celery("e2e-client", broker=redis_url, set_as_current=False)
    try:
        app.send_task(name, args=list(args))
    finally:
        app.close()


def close_links(base: str, close_user_id: str) -> list[dict]:
    answer = requests.get(
        f"{base}/_sandbox/close/links", params={"user_id": close_user_id}, timeout=5
    )
    return answer.json()["data"]


def event_types_of(base: str, calendly_user_uri: str) -> list[dict]:
    answer = requests.get(
        f"{base}/_sandbox/calendly/event_types", params={"user": calendly_user_uri}, timeout=5
    )
    return answer.json()["event_types"]


def edit_event_type(base: str, uuid: str, **fields: object) -> None:
    answer = requests.patch(f"{base}/_sandbox/calendly/event_types/{uuid}", json=fields, timeout=5)
    answer.raise_for_status()


def deliveries(base: str) -> list[dict]:
    return requests.get(f"{base}/_sandbox/webhook_deliveries", timeout=5).json()["deliveries"]
