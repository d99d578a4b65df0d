"""OAuth `state` and PKCE verifiers: bound to one browser session, good for one callback.

Flask's session is a signed cookie, and a browser (or anyone holding an old copy) can send an old
cookie again, so "single use" cannot live in the cookie alone. Each authorization in flight is a
Redis record named by the session's binding id and the state; the callback reads and deletes it
in one transaction, so a replayed or forged callback finds nothing. The PKCE verifier never
leaves the server, and is encrypted in Redis like every other secret at rest.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

from flask import request, session

from worker import runtime
from worker.providers.oauth import pkce_pair

# Calendly's authorization codes live 10 minutes; a consent screen left open longer starts over.
PENDING_TTL_SECONDS = 600
# How long a finished callback, loaded again, is recognised as finished rather than expired.
COMPLETE_TTL_SECONDS = 3600
BINDING_KEY = "oauth_binding"
_STATE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
_ERROR_SHAPE = re.compile(r"^[a-z_]{1,64}$")


class BadState(Exception):
    """The callback's state is missing, forged, already used, expired or from another session."""


class AlreadyComplete(Exception):
    """The callback's authorization already finished (the page was reloaded, or opened twice)."""

    def __init__(self, provider: str):
        super().__init__(f"{provider} authorization already completed")
        self.provider = provider


class ConsentRefused(Exception):
    """The provider sent the browser back with `error=` (the rep declined, or it failed)."""

    def __init__(self, provider: str, error: str):
        super().__init__(f"{provider} authorization ended with {error}")
        self.provider = provider
        self.error = error


@dataclass(frozen=True)
class Pending:
    provider: str
    code_verifier: str | None


def _binding() -> str:
    binding = session.get(BINDING_KEY)
    if not binding:
        binding = secrets.token_urlsafe(24)
        session[BINDING_KEY] = binding
    return binding


def _key(binding: str, state: str) -> str:
    return f"oauth:pending:{binding}:{state}"


def _complete_key(state: str) -> str:
    # By the state alone: signing in with Close starts a fresh session, so the binding is gone
    # when that callback is reloaded. The state is a 256-bit secret and this key only ever
    # answers "already done", changing nothing.
    return f"oauth:complete:{state}"


def begin(provider: str, *, pkce: bool = False) -> tuple[str, str | None]:
    """Start an authorization: (state, S256 code_challenge or None)."""
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair() if pkce else (None, None)
    record = {
        "provider": provider,
        "verifier": runtime.secret_box().encrypt(verifier) if verifier else None,
    }
    runtime.redis_client().set(_key(_binding(), state), json.dumps(record), ex=PENDING_TTL_SECONDS)
    return state, challenge


def finish(provider: str, state: str | None) -> Pending:
    """Take up the authorization `state` names, once; BadState if there is none to take."""
    if not state or not _STATE_SHAPE.match(state):
        raise BadState("no authorization of this browser session has this state")
    binding = session.get(BINDING_KEY)
    raw, deleted = None, 0
    if binding:
        with runtime.redis_client().pipeline(transaction=True) as pipe:
            pipe.get(_key(binding, state))
            pipe.delete(_key(binding, state))
            raw, deleted = pipe.execute()
    if raw is None or deleted != 1:
        if runtime.redis_client().get(_complete_key(state)) == provider.encode():
            raise AlreadyComplete(provider)
        raise BadState("the state is unknown, expired or already used")
    record = json.loads(raw)
    if record.get("provider") != provider:
        raise BadState("the state belongs to another provider's authorization")
    verifier = record.get("verifier")
    return Pending(provider, runtime.secret_box().decrypt(verifier) if verifier else None)


def mark_complete(provider: str) -> None:
    """The callback's connect finished: loading it again says so instead of "expired"."""
    state = request.args.get("state")
    if state and _STATE_SHAPE.match(state):
        runtime.redis_client().set(_complete_key(state), provider, ex=COMPLETE_TTL_SECONDS)


def take_callback(provider: str) -> tuple[Pending, str]:
    """Check a callback's state first, then its answer: (the pending authorization, the code).
    The state is spent either way, so a declined authorization cannot be answered twice."""
    pending = finish(provider, request.args.get("state"))
    error = request.args.get("error")
    if error:
        # Echo only a well-formed RFC 6749 error code, never whatever text came with it.
        raise ConsentRefused(provider, error if _ERROR_SHAPE.match(error) else "unknown_error")
    code = request.args.get("code")
    if not code:
        raise ConsentRefused(provider, "no_code")
    return pending, code
