"""Identifiers and timestamps shaped like each provider's, so payloads look real.

Ids come from the store's seeded `random.Random`, so the demo seed gives the same ids after every
reset (docs and tests can name them); tokens and codes come from `secrets`.
"""

from __future__ import annotations

import random
import secrets
import string
import time
from datetime import UTC, datetime

_BASE62 = string.digits + string.ascii_letters
_CALENDLY_ALPHABET = string.ascii_uppercase + string.digits
# Crockford base32, as used by ULIDs (SavvyCal's `link_01ED74HMFGVZ92YVCWTD8Y8H6X`).
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def close_id(rng: random.Random, prefix: str, length: int = 22) -> str:
    """A Close object id such as `schlnk_2xfNHpU6cjThMuhioZ3GjX` or `user_N6Kh…` (43 chars)."""
    return f"{prefix}_" + "".join(rng.choice(_BASE62) for _ in range(length))


def calendly_uuid(rng: random.Random) -> str:
    """A 16-character upper-case id, the shape of Calendly's `users/AAAAAAAAAAAAAAAA` URIs."""
    return "".join(rng.choice(_CALENDLY_ALPHABET) for _ in range(16))


def ulid(rng: random.Random, at: float | None = None) -> str:
    """A ULID: 48-bit millisecond time then 80 random bits, Crockford base32, sortable by time."""
    millis = int((time.time() if at is None else at) * 1000)
    value = (millis << 80) | rng.getrandbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def prefixed_ulid(rng: random.Random, prefix: str, at: float | None = None) -> str:
    return f"{prefix}_{ulid(rng, at)}"


def secret_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def iso_utc(epoch: float) -> str:
    """ISO 8601 with microseconds and a `Z`, the form Calendly uses."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_close(epoch: float) -> str:
    """ISO 8601 with an explicit offset, the form Close uses (`…331000+00:00`)."""
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="microseconds")
