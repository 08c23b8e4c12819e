"""Prometheus metrics of the e-office app: requests by route and status with their latency, and
the node's outbox by state (read at scrape time, so every worker reports the shared queue).

A registry of its own per app (not the global one), so two apps in one process (tests) do not
collide.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("edoc_office_requests", "HTTP requests of the e-office API",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("edoc_office_request_seconds", "request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))


class OutboxCollector:
    def __init__(self, office: Any) -> None:
        self.office = office

    def collect(self):
        gauge = GaugeMetricFamily("edoc_outbox_items", "outbox rows by state", labels=["state"])
        for state, count in sorted(self.office.node.queue_report()["counts"].items()):
            gauge.add_metric([state], count)
        yield gauge


def install(metrics: Metrics, office: Any) -> None:
    metrics.registry.register(OutboxCollector(office))


class MetricsMiddleware:
    """Counts each request under its route template (``/api/v1/incoming/{doc_id}``), so ids do
    not explode the label space."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def sending(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, path, str(status["code"])).inc()
            self.metrics.latency.labels(method, path).observe(time.perf_counter() - start)


def render(office: Any) -> tuple[bytes, str]:
    return generate_latest(office.metrics.registry), CONTENT_TYPE_LATEST
