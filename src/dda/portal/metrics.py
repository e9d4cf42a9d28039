"""Prometheus metrics of the portal (one registry per process; scrape each API process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "dda_portal_requests_total",
    "HTTP requests by route and status class",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "dda_portal_request_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
LOGINS = Counter("dda_portal_logins_total", "Login attempts by outcome", ["outcome"], registry=REGISTRY)
