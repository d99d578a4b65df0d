"""What a rep sees when connecting fails: one plain page per kind of failure, the right status,
and nothing stored. The OAuth blueprints register these handlers; their routes raise."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint

from web.errors import page_error
from web.oauth_state import AlreadyComplete, BadState, ConsentRefused
from worker.providers import registry
from worker.providers.errors import (
    BadResponse,
    GrantRevoked,
    ProviderError,
    RateLimited,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger(__name__)


def bad_state(exc: BadState):
    log.warning("OAuth callback refused: %s", exc)
    return page_error(
        400,
        "This link has expired",
        "The sign-in or connect page that sent you here is out of date, was already used, or "
        "was opened in another browser. Nothing was changed. Please start again from schedsync.",
    )


def already_complete(exc: AlreadyComplete):
    name = registry.display_name(exc.provider)
    what = "You are signed in with Close" if exc.provider == "close" else f"{name} is connected"
    return page_error(
        200,
        f"{name}: already done",
        f"{what}: this page was the end of a connect that already finished, so there is nothing "
        "more to do here. Your links are on your schedsync page.",
    )


def consent_refused(exc: ConsentRefused):
    name = registry.display_name(exc.provider)
    log.info("%s authorization not granted: %s", exc.provider, exc.error)
    if exc.error == "access_denied":
        return page_error(
            403,
            f"{name} access was not granted",
            f"You declined to give schedsync access to {name}, so nothing was connected. "
            "You can connect again from schedsync whenever you like.",
        )
    return page_error(
        502,
        f"{name} did not complete the authorization",
        f"{name} could not finish the authorization, so nothing was connected. "
        "Please try again in a moment.",
    )


def provider_failure(exc: ProviderError):
    name = registry.display_name(exc.provider)
    log.warning("%s connect failed: %s: %s", exc.provider, type(exc).__name__, exc)
    if isinstance(exc, GrantRevoked | Unauthorized):
        return page_error(
            400,
            f"{name} did not accept the authorization",
            f"{name} refused the authorization, so nothing was connected. Please try again.",
        )
    if isinstance(exc, RateLimited | Unavailable):
        return page_error(
            503,
            f"{name} could not be reached",
            f"{name} is not answering right now, so nothing was connected. "
            "Please try again in a minute.",
        )
    detail = "an incomplete answer" if isinstance(exc, BadResponse) else "an unexpected answer"
    return page_error(
        502,
        f"{name} sent {detail}",
        f"{name} answered in a way schedsync cannot use, so nothing was connected. "
        "Please try again; if it keeps happening, tell your administrator.",
    )


def redis_down(exc: redis.RedisError):
    log.warning("OAuth flow cannot reach Redis: %s", type(exc).__name__)
    return page_error(
        503,
        "schedsync is not ready",
        "schedsync cannot reach its Redis right now, so nothing was changed. "
        "Please try again in a minute.",
    )


def register(bp: Blueprint) -> None:
    bp.register_error_handler(BadState, bad_state)
    bp.register_error_handler(AlreadyComplete, already_complete)
    bp.register_error_handler(ConsentRefused, consent_refused)
    bp.register_error_handler(ProviderError, provider_failure)
    bp.register_error_handler(redis.RedisError, redis_down)
