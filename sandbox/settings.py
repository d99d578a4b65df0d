"""The sandbox's settings: defaults, overridden by the environment, then by `create_app(config)`.

The OAuth client names match schedsync's own environment variables, so one `.env` can serve both.
Everything else is prefixed `SANDBOX_` (schedsync's `PUBLIC_URL` is not the sandbox's).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

DEFAULT_PUBLIC_URL = "http://127.0.0.1:5050"

DEFAULTS: dict[str, Any] = {
    "CLOSE_CLIENT_ID": "sandbox-close-client",
    "CLOSE_CLIENT_SECRET": "sandbox-close-secret",
    # Close reports its own object id for the OAuth app on every THIRD_PARTY link; it is not the
    # client_id string, so schedsync has to remember what Close returns (CONTRACT §4).
    "CLOSE_OAUTH_CLIENT_OBJECT_ID": "oa2client_sandbox",
    "CALENDLY_CLIENT_ID": "sandbox-calendly-client",
    "CALENDLY_CLIENT_SECRET": "sandbox-calendly-secret",
    "CALENDLY_WEBHOOK_SIGNING_KEY": "sandbox-calendly-signing-key",
    "SAVVYCAL_CLIENT_ID": "sandbox-savvycal-client",
    "SAVVYCAL_CLIENT_SECRET": "sandbox-savvycal-secret",
    # None: URIs are built from the host each request arrived on.
    "SANDBOX_PUBLIC_URL": None,
    "SANDBOX_SEED": "demo",
    # None: state in memory only. A path: the world is kept there across restarts.
    "SANDBOX_STATE_FILE": None,
    "SANDBOX_CODE_TTL_SECONDS": 600,
    "SANDBOX_CLOSE_TOKEN_TTL_SECONDS": 3600,
    "SANDBOX_CALENDLY_TOKEN_TTL_SECONDS": 7200,
    "SANDBOX_SAVVYCAL_TOKEN_TTL_SECONDS": 7200,
    "SANDBOX_CLOSE_RATE_LIMIT": 600,
    "SANDBOX_CLOSE_RATE_WINDOW_SECONDS": 15.0,
    "SANDBOX_CALENDLY_RATE_LIMIT": 500,
    "SANDBOX_CALENDLY_RATE_WINDOW_SECONDS": 60.0,
    "SANDBOX_CALENDLY_TOKENS_PER_MINUTE": 8,
    "SANDBOX_WEBHOOK_RETRY_BASE_SECONDS": 2.0,
    "SANDBOX_WEBHOOK_RETRY_MAX_SECONDS": 300.0,
    "SANDBOX_WEBHOOK_FAILURE_WINDOW_SECONDS": 86400.0,
    "SANDBOX_WEBHOOK_TIMEOUT_SECONDS": 10.0,
    "SANDBOX_WEBHOOK_WORKERS": 8,
}

# Names printed and served at /_sandbox/env alongside the URLs.
CREDENTIAL_NAMES = (
    "CLOSE_CLIENT_ID",
    "CLOSE_CLIENT_SECRET",
    "CALENDLY_CLIENT_ID",
    "CALENDLY_CLIENT_SECRET",
    "CALENDLY_WEBHOOK_SIGNING_KEY",
    "SAVVYCAL_CLIENT_ID",
    "SAVVYCAL_CLIENT_SECRET",
)


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Defaults, then environment variables of the same names, then `overrides`."""
    env = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        if isinstance(default, bool) or default is None or isinstance(default, str):
            settings[name] = raw
        elif isinstance(default, int):
            settings[name] = int(raw)
        else:
            settings[name] = float(raw)
    settings.update(overrides or {})
    return settings


def env_block(base: str, settings: Mapping[str, Any]) -> dict[str, str]:
    """The environment schedsync needs to talk to this sandbox at `base`."""
    base = base.rstrip("/")
    block = {
        "CLOSE_API_URL": f"{base}/close/api/v1",
        "CLOSE_AUTHORIZE_URL": f"{base}/close/oauth2/authorize/",
        "CLOSE_TOKEN_URL": f"{base}/close/oauth2/token/",
        "CLOSE_REVOKE_URL": f"{base}/close/oauth2/revoke/",
        "CALENDLY_API_URL": f"{base}/calendly/api",
        "CALENDLY_AUTH_URL": f"{base}/calendly/auth",
        "SAVVYCAL_API_URL": f"{base}/savvycal/api/v1",
        "SAVVYCAL_AUTH_URL": f"{base}/savvycal/oauth",
        "SAVVYCAL_BOOKING_URL": f"{base}/savvycal/book",
        # Close's page of one scheduling link, `{id}` standing for its Close id.
        "CLOSE_LINK_PAGE_URL": f"{base}/close-app/scheduling_link/{{id}}/",
    }
    block.update({name: str(settings[name]) for name in CREDENTIAL_NAMES})
    return block


def env_lines(block: Mapping[str, str]) -> str:
    return "\n".join(f"{name}={value}" for name, value in block.items())
