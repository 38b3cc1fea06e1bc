"""Per-client rate limiting: one token bucket per client address.

A bucket holds up to `burst` tokens and refills at `per_minute` tokens a minute; each
request takes one. An empty bucket means "too many requests", with the seconds until the
next token as the Retry-After value.

Memory stays bounded: a client whose bucket has refilled completely carries no state worth
keeping, so it is forgotten on the next sweep, and at most `max_clients` buckets are kept
(past that the least recently seen client is dropped, which only ever errs on the lenient
side).

    limiter = RateLimiter(per_minute=60, burst=20)
    allowed, retry_after = limiter.take(client_id(headers, peer, trust_proxy_headers=False))
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping


class RateLimiter:
    def __init__(
        self, per_minute: float, burst: int, max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = max(1, burst)
        self.max_clients = max_clients
        self.clock = clock
        # client -> (tokens, time of last update); oldest-seen first, for eviction.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        # Taken from the event loop and from the page's worker threads alike.
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str) -> tuple[bool, int]:
        """Spend one token for `client`: (True, 0) if allowed, else (False, seconds to wait)."""
        if not self.enabled:
            return True, 0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            if now >= self._next_sweep or len(self._buckets) > self.max_clients:
                self._sweep(now)
        if allowed:
            return True, 0
        return False, max(1, math.ceil((1.0 - tokens) / self.rate))

    def __len__(self) -> int:
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        """Forget clients whose buckets are full again, then the oldest past the cap."""
        refill_seconds = self.burst / self.rate
        while self._buckets:
            client, (tokens, last) = next(iter(self._buckets.items()))
            if tokens + (now - last) * self.rate < self.burst and len(self._buckets) <= self.max_clients:
                break  # stop at the first client still limited: sweeps stay cheap, and the cap bounds the rest
            del self._buckets[client]
        self._next_sweep = now + min(refill_seconds, 60.0)


def client_id(headers: Mapping[str, str], peer: str | None, trust_proxy_headers: bool) -> str:
    """Who is asking: the peer address, or behind a trusted proxy the address it saw.

    The proxy appends the address it received the request from to X-Forwarded-For, so the
    last entry is the one to trust; earlier entries come from the client and can be forged.
    """
    if trust_proxy_headers:
        forwarded = headers.get("x-forwarded-for", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return peer or "unknown"
