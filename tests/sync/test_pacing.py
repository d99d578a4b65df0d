"""The shared rate-limit state, on a real redis-server: budgets and pauses hold across callers."""

import threading
import time

import pytest

from worker.providers.errors import RateLimited
from worker.providers.pacing import RedisPacer

KEY = "close:orga_1:GET /scheduling_link/"


def test_unknown_budget_lets_calls_through(real_redis):
    pacer = RedisPacer(real_redis)
    for _ in range(5):
        pacer.before(KEY)
    assert not real_redis.exists(f"rl:left:{KEY}")


def test_announced_budget_is_shared_and_never_overspent_by_concurrent_callers(real_redis):
    RedisPacer(real_redis).observe(KEY, remaining=20, reset=30)
    sent, refused = [], []

    def caller():
        pacer = RedisPacer(real_redis, max_inline_wait=0)
        for _ in range(10):
            try:
                pacer.before(KEY)
                sent.append(1)
            except RateLimited as exc:
                refused.append(exc.retry_after)

    threads = [threading.Thread(target=caller) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sent) == 20
    assert len(refused) == 40 and all(0 < r <= 30 for r in refused)


def test_a_response_only_lowers_the_budget_within_a_window(real_redis):
    pacer = RedisPacer(real_redis)
    pacer.observe(KEY, remaining=5, reset=30)
    pacer.observe(KEY, remaining=9, reset=30)  # in-flight calls not yet counted by the provider
    assert int(real_redis.get(f"rl:left:{KEY}")) == 5
    pacer.observe(KEY, remaining=2, reset=30)
    assert int(real_redis.get(f"rl:left:{KEY}")) == 2


def test_a_new_window_starts_when_the_announced_reset_passes(real_redis):
    pacer = RedisPacer(real_redis, max_inline_wait=2)
    pacer.observe(KEY, remaining=0, reset=0.3)
    started = time.monotonic()
    pacer.before(KEY)  # waits out the short reset in place
    assert time.monotonic() - started >= 0.25


def test_a_pause_holds_every_caller_until_the_reset(real_redis):
    RedisPacer(real_redis).pause(KEY, 20)
    with pytest.raises(RateLimited) as info:
        RedisPacer(real_redis).before(KEY)
    # The pause's end is stored as a time stamp: reading it back may round up by microseconds.
    assert 19 < info.value.retry_after <= 20.01


def test_a_shorter_pause_never_shortens_a_longer_one(real_redis):
    pacer = RedisPacer(real_redis)
    pacer.pause(KEY, 20)
    pacer.pause(KEY, 1)
    with pytest.raises(RateLimited) as info:
        pacer.before(KEY)
    assert info.value.retry_after > 19


def test_a_spent_budget_is_waited_out_in_place_but_a_429_pause_is_not(real_redis):
    # A budget's reset is an announced window boundary: waiting for it is cheaper than deferring
    # a full sync that would read every provider again. A 429 pause still defers at once.
    pacer = RedisPacer(real_redis, max_inline_wait=0.1)
    pacer.observe(KEY, remaining=0, reset=0.5)
    started = time.monotonic()
    pacer.before(KEY)
    assert time.monotonic() - started >= 0.4

    pacer.pause(KEY, 0.5)
    with pytest.raises(RateLimited):
        pacer.before(KEY)


def test_a_window_announced_while_others_call_never_looks_spent(real_redis):
    """First calls of a user race its first response: the budget it announces has room, so no
    caller may see it spent (a counter created by a caller would read -1 for the whole window)."""
    refused = []

    def caller():
        pacer = RedisPacer(real_redis, max_inline_wait=0)
        for _ in range(50):
            try:
                pacer.before(KEY)
            except RateLimited:
                refused.append(1)

    for round_ in range(60):
        real_redis.delete(f"rl:left:{KEY}")
        threads = [threading.Thread(target=caller) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.0005 * (round_ % 10))  # land the announcement at varying points
        RedisPacer(real_redis).observe(KEY, remaining=10_000, reset=60)
        for t in threads:
            t.join()
    assert refused == []


def test_a_call_costs_one_round_trip_to_the_rate_limit_state(real_redis):
    """With many accounts in flight per process the pacer is on every call's path: it asks
    Redis once per call, window or not."""
    commands = []
    original = real_redis.execute_command

    def counting(*args, **kwargs):
        commands.append(args[0])
        return original(*args, **kwargs)

    pacer = RedisPacer(real_redis)
    pacer.before(KEY)  # loads the script once
    real_redis.execute_command = counting
    try:
        pacer.before(KEY)  # no window announced
        pacer.observe(KEY, remaining=50, reset=30)
        pacer.before(KEY)  # a unit taken from the window
    finally:
        del real_redis.execute_command
    assert commands == ["EVALSHA", "EVALSHA", "EVALSHA"]
    assert int(real_redis.get(f"rl:left:{KEY}")) == 49


def test_when_a_window_ends_one_call_probes_and_the_rest_wait_for_its_answer(real_redis):
    """Threads of many processes waiting out a spent window must not all go the moment it
    ends: one goes, and the others take units of the window its answer announces."""
    pacer = RedisPacer(real_redis)
    pacer.observe(KEY, remaining=0, reset=0.2)
    sent = []

    def caller(n):
        pacer.before(KEY)
        sent.append(n)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the others had every chance to go
    assert len(sent) == 1
    pacer.observe(KEY, remaining=3, reset=5)  # the probe's answer: 3 left in the new window
    deadline = time.monotonic() + 10
    while len(sent) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    assert len(sent) == 4  # the probe and the three units, no more
    real_redis.delete(f"rl:left:{KEY}", f"rl:known:{KEY}")  # no limit announced any more
    for t in threads:
        t.join(timeout=30)
    assert len(sent) == 8
