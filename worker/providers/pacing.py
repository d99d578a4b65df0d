"""Rate-limit state shared by every worker process, in Redis.

Keys are (provider, token owner, endpoint group), as the providers count: Close per organization
and endpoint group, Calendly and SavvyCal per user.

- **Pause.** A 429 pauses the key until the provider's reset for every process: no call for that
  key is sent before then.
- **Budget.** The `remaining` a response announces becomes a shared counter that expires at the
  announced reset. Every call takes one from it before it is sent, so workers running at once
  cannot spend the same last unit; when it is spent, callers wait for the reset. A response only
  ever lowers the counter (in-flight calls the provider has not counted yet would otherwise be
  counted twice); a new window starts when the counter expires.

A short wait is waited out in place; a long one raises RateLimited so the task is retried with a
countdown instead of holding a worker. A spent budget is waited out in place for longer (up to
MAX_BUDGET_WAIT, one Close window) than a 429 pause: its reset is a window boundary the provider
announced, not trouble, and a deferred full sync must read every provider again when it restarts.
With one organization's accounts sharing Close's per-organization limit, deferring at each window
boundary cost 2.6 to 2.8 times the calls of a first sync (bench/pacing.py); waiting in place sends
only the calls the sync needs, in the same wall time.
"""

from __future__ import annotations

import logging
import time

import redis

from worker.providers.errors import RateLimited

log = logging.getLogger(__name__)

MAX_INLINE_WAIT = 2.0
# Close counts in 15 s windows (its legacy 429 body said "rate_window": 15); Calendly's reset is
# up to a minute away, and that still defers.
MAX_BUDGET_WAIT = 15.0


# A key whose provider once announced a window is "known" for this long. When its window ends,
# the first caller goes alone (a probe) and the others wait for the new window its answer
# announces: with WORKER_CONCURRENCY threads in each of several processes, everyone calling
# unpaced at each window's start would spend the new window many times over. A probe whose
# answer never comes (a timeout, a failure) gives way after PROBE_SECONDS.
KNOWN_SECONDS = 3600
PROBE_SECONDS = 2.0

# KEYS: pause, budget, known. ARGV: now (epoch seconds), probe lifetime (ms).
# Returns {code, seconds}: 0 = go (a unit taken, or nothing announced), 1 = paused by a 429,
# 2 = wait for the budget's window to reset, 3 = wait for the answer of another caller probing
# the new window.
# Seconds travel as strings: Redis truncates Lua numbers to integers.
BEFORE = """
local paused = redis.call('GET', KEYS[1])
if paused then
  local wait = tonumber(paused) - tonumber(ARGV[1])
  if wait > 0 then return {1, tostring(wait)} end
end
local ttl = redis.call('PTTL', KEYS[2])
if ttl == -2 then
  if redis.call('EXISTS', KEYS[3]) == 0 then return {0, '0'} end
  if redis.call('SET', KEYS[3] .. ':probe', '1', 'NX', 'PX', ARGV[2]) then return {0, '0'} end
  return {3, '0.05'}
end
if ttl == -1 then return {0, '0'} end
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
if left <= 0 then return {2, tostring(math.max(ttl / 1000, 0.01))} end
redis.call('DECR', KEYS[2])
return {0, '0'}
"""

# KEYS: budget, known. ARGV: remaining, reset (ms), known lifetime (s). A response only ever
# lowers the budget within its window (in-flight calls the provider has not counted yet would
# otherwise be counted twice); a new window starts when none is stored.
OBSERVE = """
local ttl = redis.call('PTTL', KEYS[1])
local remaining = tonumber(ARGV[1])
if ttl < 0 then
  redis.call('SET', KEYS[1], remaining, 'PX', ARGV[2])
  redis.call('DEL', KEYS[2] .. ':probe')
elseif remaining < tonumber(redis.call('GET', KEYS[1])) then
  redis.call('SET', KEYS[1], remaining, 'KEEPTTL')
end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
return 1
"""


class RedisPacer:
    def __init__(
        self,
        client: redis.Redis,
        *,
        max_inline_wait: float = MAX_INLINE_WAIT,
        max_budget_wait: float | None = None,
        prefix: str = "rl",
    ):
        self.client = client
        self.max_inline_wait = max_inline_wait
        if max_budget_wait is None:
            # A caller that must never wait (max_inline_wait=0) does not wait for budgets either.
            max_budget_wait = max(MAX_BUDGET_WAIT, max_inline_wait) if max_inline_wait > 0 else 0.0
        self.max_budget_wait = max_budget_wait
        self.prefix = prefix
        # Registered per client (a Script object is cheap and thread-safe): EVALSHA, and EVAL
        # again only after Redis lost its script cache (a restart).
        self._before_script = client.register_script(BEFORE)
        self._observe_script = client.register_script(OBSERVE)

    def _pause_key(self, key: str) -> str:
        return f"{self.prefix}:pause:{key}"

    def _budget_key(self, key: str) -> str:
        return f"{self.prefix}:left:{key}"

    def _known_key(self, key: str) -> str:
        return f"{self.prefix}:known:{key}"

    def before(self, key: str) -> None:
        """Return when a call for `key` may be sent now (having taken one unit of budget)."""
        started = time.monotonic()
        while True:
            try:
                wait, paused, probing = self._wait_needed(key)
            except redis.RedisError:
                log.warning("rate-limit state unreachable; calling %s unpaced", key)
                return
            if wait <= 0:
                return
            if probing and self.max_budget_wait <= 0:
                return  # a caller that must never wait goes as it did before windows were known
            limit = self.max_inline_wait if paused else self.max_budget_wait
            if time.monotonic() + wait > started + limit:
                raise RateLimited(wait, provider=key.split(":", 1)[0], status=None)
            time.sleep(min(wait, 0.25))

    def _wait_needed(self, key: str) -> tuple[float, bool, bool]:
        """(seconds to wait, whether a 429 pause is the reason, whether another caller's probe
        is); (0, False, False) after taking a unit.
        One round trip: the pause, the budget and the probe are decided inside Redis."""
        code, wait = self._before_script(
            keys=[self._pause_key(key), self._budget_key(key), self._known_key(key)],
            args=[f"{time.time():.6f}", int(PROBE_SECONDS * 1000)],
            client=self.client,
        )
        return float(wait), int(code) == 1, int(code) == 3

    def observe(self, key: str, remaining: int | None, reset: float | None) -> None:
        if remaining is None or reset is None or reset <= 0:
            return
        try:
            self._observe_script(
                keys=[self._budget_key(key), self._known_key(key)],
                args=[max(int(remaining), 0), max(int(reset * 1000), 1), KNOWN_SECONDS],
                client=self.client,
            )
        except redis.RedisError:
            log.warning("rate-limit state unreachable; budget of %s not shared", key)

    def pause(self, key: str, seconds: float) -> None:
        if seconds <= 0:
            return
        until = time.time() + seconds
        pkey = self._pause_key(key)
        try:
            current = self.client.get(pkey)
            if current is not None and float(current) >= until:
                return
            self.client.set(pkey, f"{until:.3f}", px=max(int(seconds * 1000), 1))
        except redis.RedisError:
            log.warning("rate-limit state unreachable; pause of %s not shared", key)
