"""The Calendly-Webhook-Signature verifier: the reference vector, the tolerance, both keys, and
properties over arbitrary bodies, timestamps, keys and headers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from worker.calendly.signatures import (
    TOLERANCE_SECONDS,
    Verdict,
    check,
    digest,
    parse_header,
    sign,
    verify,
)

# reference/calendly-api.md §2.4, checked there against a self-made vector.
VECTOR_KEY = "test-signing-key"
VECTOR_T = 1492774577
VECTOR_BODY = (
    b'{"event":"invitee.created","created_at":"2020-11-23T17:51:19.000000Z",'
    b'"created_by":"https://api.calendly.com/users/AAAA","payload":{}}'
)
VECTOR_V1 = "e8eadce5f4d2fa635f520525d56dbac80e81834589418f57fbade339dd930899"

keys = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=2048)
timestamps = st.integers(min_value=0, max_value=10**11)


def test_reference_vector_verifies():
    header = f"t={VECTOR_T},v1={VECTOR_V1}"
    assert sign(VECTOR_KEY, VECTOR_T, VECTOR_BODY) == header
    assert verify(VECTOR_BODY, header, [VECTOR_KEY], now=VECTOR_T + 5)


def test_signature_over_the_body_alone_is_refused():
    import hashlib
    import hmac

    body_only = hmac.new(VECTOR_KEY.encode(), VECTOR_BODY, hashlib.sha256).hexdigest()
    header = f"t={VECTOR_T},v1={body_only}"
    assert check(VECTOR_BODY, header, [VECTOR_KEY], now=VECTOR_T) is Verdict.MISMATCH


def test_timestamp_exactly_at_the_tolerance_passes_and_one_second_more_fails_either_way():
    header = sign(VECTOR_KEY, VECTOR_T, VECTOR_BODY)
    for now in (VECTOR_T + TOLERANCE_SECONDS, VECTOR_T - TOLERANCE_SECONDS):
        assert verify(VECTOR_BODY, header, [VECTOR_KEY], now=now)
    for now in (VECTOR_T + TOLERANCE_SECONDS + 1, VECTOR_T - TOLERANCE_SECONDS - 1):
        assert check(VECTOR_BODY, header, [VECTOR_KEY], now=now) is Verdict.STALE


def test_either_key_verifies_and_an_empty_key_never_does():
    header = sign("app-key", VECTOR_T, VECTOR_BODY)
    assert verify(VECTOR_BODY, header, ["subscription-key", "app-key"], now=VECTOR_T)
    assert not verify(VECTOR_BODY, header, ["subscription-key"], now=VECTOR_T)
    assert check(VECTOR_BODY, sign("", VECTOR_T, VECTOR_BODY), ["", ""], now=VECTOR_T) is (
        Verdict.MISSING
    )


def test_one_of_several_v1_values_may_match():
    good = digest(VECTOR_KEY, str(VECTOR_T), VECTOR_BODY)
    header = f"t={VECTOR_T},v1={'0' * 64},v1={good}"
    assert verify(VECTOR_BODY, header, [VECTOR_KEY], now=VECTOR_T)


def test_header_parts_may_carry_spaces_and_unknown_schemes():
    good = digest(VECTOR_KEY, str(VECTOR_T), VECTOR_BODY)
    assert verify(VECTOR_BODY, f" t={VECTOR_T}, v0=abc , v1={good} ", [VECTOR_KEY], now=VECTOR_T)


def test_malformed_headers_are_named_as_such():
    good = digest(VECTOR_KEY, str(VECTOR_T), VECTOR_BODY)
    for header in (
        f"v1={good}",  # no t
        f"t={VECTOR_T}",  # no v1
        f"t={VECTOR_T},v1={good.upper()}",  # Calendly sends lower-case hex
        f"t={VECTOR_T},v1={good[:-1]}",
        f"t=１４９２７７４５７７,v1={good}",  # Unicode digits
        f"t={VECTOR_T},t={VECTOR_T},v1={good}",
        f"t={VECTOR_T};v1={good}",
        f"sha256={good}",
    ):
        assert check(VECTOR_BODY, header, [VECTOR_KEY], now=VECTOR_T) is Verdict.MALFORMED, header
    assert check(VECTOR_BODY, None, [VECTOR_KEY], now=VECTOR_T) is Verdict.MISSING
    assert check(VECTOR_BODY, "", [VECTOR_KEY], now=VECTOR_T) is Verdict.MISSING


@given(body=bodies, t=timestamps, key=keys)
def test_any_body_timestamp_and_key_round_trip(body, t, key):
    assert verify(body, sign(key, t, body), [key], now=t)


@given(body=bodies.filter(bool), t=timestamps, key=keys, data=st.data())
def test_any_single_byte_change_of_the_body_fails(body, t, key, data):
    header = sign(key, t, body)
    i = data.draw(st.integers(0, len(body) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != body[i]))
    changed = body[:i] + bytes([new]) + body[i + 1 :]
    assert not verify(changed, header, [key], now=t)


@given(body=bodies, t=timestamps, key=keys, data=st.data())
def test_any_single_byte_change_of_t_or_v1_fails(body, t, key, data):
    header = sign(key, t, body).encode()
    # Only bytes inside the values: "t=" and ",v1=" are the labels.
    v1_start = header.index(b",v1=") + 4
    positions = list(range(2, v1_start - 4)) + list(range(v1_start, len(header)))
    i = data.draw(st.sampled_from(positions))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != header[i]))
    changed = (header[:i] + bytes([new]) + header[i + 1 :]).decode("latin-1")
    assert not verify(body, changed, [key], now=t)


@given(header=st.text(max_size=300), body=bodies, key=keys, now=st.floats(0, 1e11))
def test_garbage_headers_never_raise_and_never_verify(header, body, key, now):
    assert check(body, header, [key], now=now) in set(Verdict) - {Verdict.OK}
    parse_header(header)


@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(["t", "v1", "v0", "", "t ", "V1"]),
            st.text(alphabet="0123456789abcdefABCDEF=, ", max_size=70),
        ),
        max_size=6,
    ),
    body=bodies,
)
def test_headers_shaped_like_the_real_one_never_raise(parts, body):
    header = ",".join(f"{name}={value}" for name, value in parts)
    assert check(body, header, ["k"], now=0) is not Verdict.OK
