"""A refreshed token pair kept until the database has it (CONTRACT §5 "A refresh that succeeded
is never lost").

The provider rotates the refresh token the moment it answers a refresh, so from then on the new
pair is the only way into the grant. It is kept here, encrypted with ENCRYPTION_KEYS, before the
database is asked to store it: in Redis (one key per connection, a long expiry), or, when Redis
cannot take it either, in a file under PENDING_TOKENS_DIR. The next refresh of the connection
looks here first (worker/auth/tokens.py): a kept pair is stored instead of spending the old,
already rotated refresh token again, and it is cleared only once the database has committed it.

Each pair names the token generation whose refresh token was spent for it. A kept pair whose
generation is no longer the stored one was stored already (its clearing failed) or was overtaken
by a reconnect, and is dropped unused.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis

from worker import runtime
from worker.providers.oauth import TokenGrant

log = logging.getLogger(__name__)

# Long enough to outlive any outage worth surviving; a refresh token unused this long is likely
# dead anyway.
REDIS_TTL_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class KeptPair:
    connection_id: int
    provider: str
    generation: int  # the stored generation whose refresh token this pair replaced
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None

    def grant(self) -> TokenGrant:
        return TokenGrant(self.access_token, self.refresh_token, self.expires_at, {})


def _key(connection_id: int) -> str:
    return f"tokens:pending:{connection_id}"


def _path(connection_id: int) -> Path:
    return Path(runtime.settings().pending_tokens_dir) / f"connection-{connection_id}.pair"


def _seal(pair: KeptPair) -> str:
    body = {
        "connection_id": pair.connection_id,
        "provider": pair.provider,
        "generation": pair.generation,
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_at": pair.expires_at.isoformat() if pair.expires_at else None,
    }
    return runtime.secret_box().encrypt(json.dumps(body))


def _open(sealed: str | bytes) -> KeptPair:
    text = sealed.decode() if isinstance(sealed, bytes) else sealed
    body = json.loads(runtime.secret_box().decrypt(text))
    expires = body.get("expires_at")
    return KeptPair(
        connection_id=int(body["connection_id"]),
        provider=str(body["provider"]),
        generation=int(body["generation"]),
        access_token=str(body["access_token"]),
        refresh_token=body.get("refresh_token"),
        expires_at=datetime.fromisoformat(expires) if expires else None,
    )


def keep(connection_id: int, provider: str, generation: int, grant: TokenGrant) -> None:
    """Keep a pair the provider has just issued, before anything else can fail."""
    pair = KeptPair(
        connection_id,
        provider,
        generation,
        grant.access_token,
        grant.refresh_token,
        grant.expires_at,
    )
    sealed = _seal(pair)
    try:
        runtime.redis_client().set(_key(connection_id), sealed, ex=REDIS_TTL_SECONDS)
        return
    except redis.RedisError as exc:
        log.warning("connection %s: Redis did not take the refreshed pair (%s)", connection_id, exc)
    try:
        _write_file(_path(connection_id), sealed)
    except OSError as exc:
        # Only the database store that follows can save it now.
        log.error(
            "connection %s: the refreshed pair could be kept neither in Redis nor in %s (%s)",
            connection_id,
            runtime.settings().pending_tokens_dir,
            exc,
        )


def _write_file(path: Path, sealed: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(sealed)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # whole or not at all, even if this process dies now
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def find(connection_id: int, provider: str) -> KeptPair | None:
    """The kept pair of a connection, wherever it is; the newest if both places hold one."""
    found: list[KeptPair] = []
    sealed: list[str | bytes] = []
    try:
        value = runtime.redis_client().get(_key(connection_id))
        if value is not None:
            sealed.append(value)
    except redis.RedisError as exc:
        log.warning("connection %s: Redis cannot be asked for a kept pair (%s)", connection_id, exc)
    with contextlib.suppress(FileNotFoundError):
        sealed.append(_path(connection_id).read_text())
    for value in sealed:
        try:
            pair = _open(value)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("connection %s: a kept token pair cannot be read (%s)", connection_id, exc)
            continue
        # Both checks guard against a key or file left by another database using this Redis or
        # this folder: a pair is only ever used for the connection it was issued to.
        if pair.connection_id == connection_id and pair.provider == provider:
            found.append(pair)
    return max(found, key=lambda p: p.generation, default=None)


def clear(connection_id: int) -> None:
    """Forget the kept pair once the database holds it (or it is stale). A failure is harmless:
    the generation check drops a stale pair later."""
    try:
        runtime.redis_client().delete(_key(connection_id))
    except redis.RedisError as exc:
        log.warning("connection %s: could not clear a kept pair in Redis (%s)", connection_id, exc)
    try:
        _path(connection_id).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("connection %s: could not remove a kept pair file (%s)", connection_id, exc)
