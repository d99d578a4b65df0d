"""One HTTP connection pool per process, shared by every provider client and every thread.

A worker holds WORKER_CONCURRENCY accounts in flight at once; a fresh `requests.Session` per
client would open a new TCP (and TLS) connection for every account's every provider, each a
round trip to a host 50-150 ms away. urllib3's pool is thread-safe, so one adapter, sized to the
concurrency, keeps connections to each provider host open across accounts.

The session keeps no cookies: one account's calls must never carry what a provider set for
another's (nothing schedsync calls relies on cookies; authentication is the bearer token).

The environment's proxy and CA settings (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, …) still
apply, as requests applies them, but are read once per provider host: requests reads them on
every call, a walk over the whole environment that was a tenth of a no-op account's CPU. They are
the process's own, set before it starts.
"""

from __future__ import annotations

import os
import threading
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from worker import runtime

USER_AGENT = "schedsync/0.1"

_lock = threading.Lock()
_shared: dict[str, object] = {}


class NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie, request) -> bool:  # noqa: ANN001 - cookiejar's own signature
        return False

    def return_ok(self, cookie, request) -> bool:  # noqa: ANN001
        return False


class SharedSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: ANN001
        """requests' own merge, remembered per (scheme, host) for calls that bring no settings
        of their own (every provider call); any other call is merged as requests does."""
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = tuple(urlsplit(url)[:2])
        merged = self._environment.get(key)
        if merged is None:
            merged = super().merge_environment_settings(url, {}, None, None, None)
            self._environment[key] = merged  # the same answer if two threads race here
        return {**merged, "proxies": dict(merged["proxies"])}


def new_session(pool_size: int) -> requests.Session:
    session = SharedSession()
    session.cookies.set_policy(NoCookies())
    session.headers["User-Agent"] = USER_AGENT
    # Connections per host; a thread that finds all of them busy waits for one (block=True)
    # rather than opening and then throwing away an extra one.
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_size, pool_block=True)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def shared_session() -> requests.Session:
    """This process's session. Made again in a forked child (prefork, tests' process pools):
    sockets inherited from the parent are the parent's."""
    with _lock:
        if _shared.get("pid") != os.getpid():
            _shared["session"] = new_session(max(runtime.settings().worker_concurrency, 4))
            _shared["pid"] = os.getpid()
        return _shared["session"]  # type: ignore[return-value]
