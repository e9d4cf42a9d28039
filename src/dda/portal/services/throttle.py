"""Failure counters with exponential back-off, shared by every API process through Redis when
configured (``DDA_PORTAL__REDIS_URL``), else kept in this process.

After ``free_failures`` failures for a key the key is locked for ``base_s * 2**(n - free_failures)``
seconds (capped), counted from the last failure; a success clears the key.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from dda.core.errors import Unavailable


@dataclass(frozen=True)
class Backoff:
    free_failures: int = 3
    base_s: float = 2.0
    max_s: float = 900.0
    window_s: float = 3600.0  # failures older than this are forgotten

    def lock_seconds(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        return float(min(self.max_s, self.base_s * 2 ** (failures - self.free_failures)))


ADDRESS_PREFIX = "addr:"


class Throttle(ABC):
    def __init__(self, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff()
        # A client address (maybe a whole plant behind NAT) gets more free failures than an account;
        # its counter is not cleared by a success (or one valid account would reset it between
        # guesses at others), it decays after the window.
        self.address_backoff = Backoff(free_failures=10, window_s=self.backoff.window_s)

    def backoff_for(self, key: str) -> Backoff:
        return self.address_backoff if key.startswith(ADDRESS_PREFIX) else self.backoff

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: now)."""
        failures, last = self._read(key)
        if failures == 0:
            return 0
        wait = last + self.backoff_for(key).lock_seconds(failures) - time.time()
        return max(0, int(wait + 0.999))

    @abstractmethod
    def _read(self, key: str) -> tuple[int, float]: ...

    @abstractmethod
    def failed(self, key: str) -> None: ...

    @abstractmethod
    def clear(self, key: str) -> None: ...

    def close(self) -> None:
        return None


class MemoryThrottle(Throttle):
    """One process: fine for the embedded default (one `dda portal serve`)."""

    def __init__(self, backoff: Backoff | None = None) -> None:
        super().__init__(backoff)
        self._entries: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _read(self, key: str) -> tuple[int, float]:
        with self._lock:
            failures, last = self._entries.get(key, (0, 0.0))
            if failures and time.time() - last > self.backoff.window_s:
                self._entries.pop(key, None)
                return 0, 0.0
            return failures, last

    def failed(self, key: str) -> None:
        failures, _ = self._read(key)
        with self._lock:
            if len(self._entries) > 100_000:  # bounded memory whatever an attacker sends
                self._entries.clear()
            self._entries[key] = (failures + 1, time.time())

    def clear(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class RedisThrottle(Throttle):
    """Several API processes: counters live in Redis, expiring on their own."""

    def __init__(self, url: str, backoff: Backoff | None = None, prefix: str = "dda:portal:") -> None:
        super().__init__(backoff)
        self.PREFIX = prefix + "throttle:"
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - redis is in the portal extra
            raise Unavailable(
                "DDA_PORTAL__REDIS_URL is set but the redis package is missing",
                hint="pip install 'dda[portal]'",
            ) from exc
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def _read(self, key: str) -> tuple[int, float]:
        values = self._redis.hmget(self.PREFIX + key, ["n", "t"])
        if values[0] is None:
            return 0, 0.0
        return int(values[0]), float(values[1] or 0)

    def failed(self, key: str) -> None:
        name = self.PREFIX + key
        pipe = self._redis.pipeline()
        pipe.hincrby(name, "n", 1)
        pipe.hset(name, "t", repr(time.time()))
        pipe.expire(name, int(self.backoff.window_s))
        pipe.execute()

    def clear(self, key: str) -> None:
        self._redis.delete(self.PREFIX + key)

    def close(self) -> None:
        self._redis.close()


def make_throttle(redis_url: str | None, prefix: str = "dda:portal:") -> Throttle:
    return RedisThrottle(redis_url, prefix=prefix) if redis_url else MemoryThrottle()
