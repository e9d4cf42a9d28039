"""Login throttling: per account and per client address, exponential back-off, 429 + Retry-After,
X-Forwarded-For believed only from trusted proxies; every attempt audited."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from starlette.requests import Request

from dda.portal.api.deps import client_address
from dda.portal.db import AuditEvent
from dda.portal.services.throttle import Backoff, MemoryThrottle, RedisThrottle
from tests.portal.conftest import PASSWORD, PortalHarness

LOGIN = "/api/v1/auth/login"


def _attempt(harness: PortalHarness, username: str, password: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    response = harness.client.post(LOGIN, json={"username": username, "password": password}, headers=headers)
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json()["code"] == "throttled"
    return response.status_code


def test_account_lockout_after_a_few_failures_with_audit(sqlite_portal: PortalHarness) -> None:
    harness = sqlite_portal
    harness.make_user("alice")
    assert [_attempt(harness, "alice", "Wrong-Password-1") for _ in range(3)] == [401, 401, 401]
    # Locked now, even with the right password.
    assert _attempt(harness, "alice", PASSWORD) == 429
    with harness.portal.session() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    assert [(r.action, r.outcome, r.status_code) for r in rows] == [
        ("auth.login", "denied", 401),
        ("auth.login", "denied", 401),
        ("auth.login", "denied", 401),
        ("auth.login", "failure", 429),
    ]
    assert all(r.target_id == "alice" and r.client_address == "testclient" for r in rows)


@pytest.mark.slow
def test_rotating_x_forwarded_for_does_not_dodge_the_address_lock(sqlite_portal: PortalHarness) -> None:
    harness = sqlite_portal
    harness.make_user("bob")
    harness.make_user("mallory")
    # Spray: a different account each time (no account lock) from "different" forwarded addresses,
    # with a successful login on the attacker's own account in between: the address still locks.
    free = harness.portal.throttle.address_backoff.free_failures
    for n in range(free):
        assert _attempt(harness, f"guess{n}", "Wrong-Password-1", forwarded=f"10.0.0.{n}") == 401
        if n == free // 2:
            assert _attempt(harness, "mallory", PASSWORD) == 200
    assert _attempt(harness, "bob", PASSWORD, forwarded="10.9.9.9") == 429


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1234)})


def test_client_address_believes_only_trusted_proxies() -> None:
    trusted = ["127.0.0.1", "10.1.0.0/16"]
    assert client_address(_request("203.0.113.5", "1.2.3.4"), trusted) == "203.0.113.5"
    assert client_address(_request("127.0.0.1", "1.2.3.4"), trusted) == "1.2.3.4"
    # A client that prepends its own fake hops is found by walking from the nearest hop.
    assert client_address(_request("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.2.3"), trusted) == "1.2.3.4"
    assert client_address(_request("127.0.0.1", "not-an-ip"), trusted) == "not-an-ip"
    assert client_address(_request("127.0.0.1", None), trusted) == "127.0.0.1"
    assert client_address(_request("127.0.0.1", "1.2.3.4"), []) == "127.0.0.1"


def test_addresses_get_more_free_failures_than_accounts() -> None:
    throttle = MemoryThrottle()
    for _ in range(3):
        throttle.failed("user:x")
        throttle.failed("addr:10.0.0.1")
    assert throttle.retry_after("user:x") >= 1 and throttle.retry_after("addr:10.0.0.1") == 0
    for _ in range(throttle.address_backoff.free_failures - 3):
        throttle.failed("addr:10.0.0.1")
    assert throttle.retry_after("addr:10.0.0.1") >= 1


def test_backoff_grows_exponentially_and_is_capped() -> None:
    backoff = Backoff(free_failures=3, base_s=2, max_s=60)
    assert [backoff.lock_seconds(n) for n in range(1, 10)] == [0, 0, 2, 4, 8, 16, 32, 60, 60]
    throttle = MemoryThrottle(backoff)
    for _ in range(2):
        throttle.failed("k")
    assert throttle.retry_after("k") == 0
    throttle.failed("k")
    assert 1 <= throttle.retry_after("k") <= 2
    throttle.failed("k")
    throttle.failed("k")
    assert 7 <= throttle.retry_after("k") <= 8
    throttle.clear("k")
    assert throttle.retry_after("k") == 0


@pytest.fixture
def redis_url() -> str:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError:
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    return url


def test_redis_throttle_is_shared_between_instances(redis_url: str) -> None:
    key = f"test-{time.time_ns()}"
    one, two = RedisThrottle(redis_url), RedisThrottle(redis_url)
    try:
        for _ in range(3):
            one.failed(key)
        assert two.retry_after(key) >= 1
        two.clear(key)
        assert one.retry_after(key) == 0
    finally:
        one.close()
        two.close()
