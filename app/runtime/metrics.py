"""In-process metrics in the Prometheus text exposition format (version 0.0.4).

Request counts and latency (a histogram) by method, route template and status;
compute time (a histogram) by route template; requests in flight and the compute pool's
state as gauges. Route templates (``/v1/density``), never raw paths, keep the label
set bounded; unmatched paths count under ``<unmatched>``. Each process keeps its
own numbers (one uvicorn worker per process).
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable

__all__ = ["Metrics"]

BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip((*BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{name}_bucket{{{labels},le="{le}"}} {running}')
        out.append(f"{name}_sum{{{labels}}} {self.total!r}")
        out.append(f"{name}_count{{{labels}}} {running}")
        return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Thread-safe counters and histograms, rendered by :meth:`render`."""

    def __init__(self, version: str) -> None:
        self.version = version
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._latency: dict[tuple[str, str, int], _Histogram] = defaultdict(_Histogram)
        self._compute: dict[str, _Histogram] = defaultdict(_Histogram)
        self.in_flight = 0
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def finished(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.in_flight -= 1
            self._requests[(method, route, status)] += 1
            self._latency[(method, route, status)].observe(seconds)

    def computed(self, route: str, seconds: float) -> None:
        with self._lock:
            self._compute[route].observe(seconds)

    def render(self) -> str:
        """The exposition text."""
        with self._lock:
            lines = [
                "# HELP rmt_build_info Version of the service.",
                "# TYPE rmt_build_info gauge",
                f'rmt_build_info{{version="{_escape(self.version)}"}} 1',
                "# HELP rmt_http_requests_total HTTP requests by method, route and status.",
                "# TYPE rmt_http_requests_total counter",
            ]
            for (method, route, status), n in sorted(self._requests.items()):
                labels = f'method="{method}",route="{_escape(route)}",status="{status}"'
                lines.append(f"rmt_http_requests_total{{{labels}}} {n}")
            lines += [
                "# HELP rmt_http_request_duration_seconds Seconds to answer, by route and status.",
                "# TYPE rmt_http_request_duration_seconds histogram",
            ]
            for (method, route, status), hist in sorted(self._latency.items()):
                labels = f'method="{method}",route="{_escape(route)}",status="{status}"'
                lines += hist.lines("rmt_http_request_duration_seconds", labels)
            lines += [
                "# HELP rmt_compute_seconds Time spent in the numeric core, by route.",
                "# TYPE rmt_compute_seconds histogram",
            ]
            for route, hist in sorted(self._compute.items()):
                lines += hist.lines("rmt_compute_seconds", f'route="{_escape(route)}"')
            lines += [
                "# HELP rmt_http_requests_in_flight Requests being answered now.",
                "# TYPE rmt_http_requests_in_flight gauge",
                f"rmt_http_requests_in_flight {self.in_flight}",
            ]
        for name, (help_text, read) in sorted(self.gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {read()}"]
        return "\n".join(lines) + "\n"
