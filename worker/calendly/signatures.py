"""The `Calendly-Webhook-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.

v1 is HMAC-SHA256 under the signing key of `"{t}." + raw body`, in lower-case hex; a delivery is
accepted only within 180 s of `t` either way (reference/calendly-api.md §2.4). Pure functions: no
I/O, no clock of their own, and they fail closed on anything they cannot read (no key, no header,
a malformed part) without raising.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

TOLERANCE_SECONDS = 180
# Far more than Calendly sends (one v1); a bound so a hostile header cannot make us compare long.
MAX_SIGNATURES = 8
MAX_HEADER_LENGTH = 2048

# ASCII only: str.isdigit() would accept "²" and other Unicode digits.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class Verdict(Enum):
    OK = "ok"
    MISSING = "missing"  # no header, or no key to check it with
    MALFORMED = "malformed"
    STALE = "stale"  # t more than the tolerance from now, either way
    MISMATCH = "mismatch"  # no v1 matches under any key


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: str  # the digits exactly as sent: they are part of the signed string
    signatures: tuple[str, ...]


def parse_header(header: str | None) -> SignatureHeader | None:
    """The header's `t` and every `v1`; None when it is missing or not in that shape."""
    if not header or len(header) > MAX_HEADER_LENGTH:
        return None
    timestamp: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if name == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                return None
            timestamp = value
        elif name == "v1":
            if not _HEX_DIGEST.fullmatch(value) or len(signatures) >= MAX_SIGNATURES:
                return None
            signatures.append(value)
        # Other schemes (a future v2) are ignored, as Calendly's own example does.
    if timestamp is None or not signatures:
        return None
    return SignatureHeader(timestamp, tuple(signatures))


def digest(key: str, timestamp: str, body: bytes) -> str:
    return hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(key: str, timestamp: int, body: bytes) -> str:
    """The header value Calendly would send for `body` at `timestamp`."""
    return f"t={timestamp},v1={digest(key, str(timestamp), body)}"


def check(
    body: bytes,
    header: str | None,
    keys: Iterable[str],
    *,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> Verdict:
    """Why `body` with this header is or is not a delivery signed under one of `keys`."""
    usable_keys = [k for k in keys if k]
    if not header or not usable_keys:
        return Verdict.MISSING
    parsed = parse_header(header)
    if parsed is None:
        return Verdict.MALFORMED
    if abs(now - int(parsed.timestamp)) > tolerance:
        return Verdict.STALE
    matched = False
    for key in usable_keys:
        expected = digest(key, parsed.timestamp, body)
        for candidate in parsed.signatures:
            # Every pair is compared, so the time taken says nothing about which one matched.
            matched |= hmac.compare_digest(expected, candidate)
    return Verdict.OK if matched else Verdict.MISMATCH


def verify(
    body: bytes,
    header: str | None,
    keys: Iterable[str],
    *,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    return check(body, header, keys, now=now, tolerance=tolerance) is Verdict.OK
