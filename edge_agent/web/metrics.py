"""`/metrics`: the agent's live figures in Prometheus text format."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector


class SnapshotCollector(Collector):
    """Turns one status snapshot into metric families at scrape time (nothing kept in between)."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        for part in (_sources, _pipeline, _scoring, _uplink, _links, _sinks):
            yield from part(snap)


def _sources(snap: dict[str, Any]) -> Iterator[Metric]:
    events = CounterMetricFamily("edge_agent_source_events", "Events received per source", labels=["source"])
    up = GaugeMetricFamily("edge_agent_source_up", "1 if the source is running and not stale", labels=["source"])
    dropped = CounterMetricFamily(
        "edge_agent_source_dropped", "Inputs a source discarded under overload", labels=["source"]
    )
    for name, s in snap["sources"].items():
        events.add_metric([name], s["events"])
        up.add_metric([name], 1.0 if s["state"] == "running" else 0.0)
        dropped.add_metric([name], s.get("dropped", 0))
    yield events
    yield up
    yield dropped
    device = CounterMetricFamily("edge_agent_device_events", "Events per device", labels=["device"])
    over = CounterMetricFamily(
        "edge_agent_device_over_rate",
        "Events beyond the device's rate budget (handled, not dropped)",
        labels=["device"],
    )
    for name, d in snap["devices"].items():
        device.add_metric([name], d["events"])
        over.add_metric([name], d.get("over_rate", 0))
    yield device
    yield over
    dead = CounterMetricFamily("edge_agent_dead_letters", "Rejected inputs", labels=["device", "reason"])
    for letter in snap["dead_letters"]:
        dead.add_metric([letter["device"], letter["reason"]], letter["count"])
    yield dead


def _pipeline(snap: dict[str, Any]) -> Iterator[Metric]:
    counters = CounterMetricFamily("edge_agent_pipeline", "Pipeline counters", labels=["counter"])
    entries = CounterMetricFamily("edge_agent_entries", "Known-customer entries by decision", labels=["decision"])
    for name, value in snap["counters"].items():
        counters.add_metric([name], value)
        if name.startswith("entries_"):
            entries.add_metric([name.removeprefix("entries_")], value)
    yield counters
    yield entries
    queue = snap.get("queue", {})
    yield GaugeMetricFamily("edge_agent_queue_depth", "Events waiting for the pipeline", value=queue.get("depth", 0))
    yield CounterMetricFamily(
        "edge_agent_adverts_coalesced", "BLE adverts coalesced under load", value=queue.get("coalesced_adverts", 0)
    )
    yield CounterMetricFamily(
        "edge_agent_adverts_dropped", "BLE adverts dropped under load", value=queue.get("dropped_adverts", 0)
    )
    present = GaugeMetricFamily("edge_agent_people_present", "People present per zone", labels=["zone"])
    for zone, n in snap.get("present", {}).items():
        present.add_metric([zone], n)
    yield present
    tablets = snap.get("tablets")
    if tablets is not None:
        yield GaugeMetricFamily("edge_agent_tablets_connected", "Open tablet streams", value=tablets)


def _scoring(snap: dict[str, Any]) -> Iterator[Metric]:
    scoring = snap.get("scoring")
    if scoring is None:
        return
    yield GaugeMetricFamily(
        "edge_agent_scoring_fallback",
        "1 when scoring uses the rule fallback",
        value=1.0 if scoring["fallback"] else 0.0,
    )
    latency = scoring["latency_s"]
    histogram = HistogramMetricFamily("edge_agent_scoring_seconds", "Time to score one customer's offers")
    histogram.add_metric([], list(latency["buckets"].items()), latency["sum"])
    yield histogram


def _uplink(snap: dict[str, Any]) -> Iterator[Metric]:
    uplink = snap.get("uplink")
    if uplink is None:
        return
    yield GaugeMetricFamily("edge_agent_outbox_batches", "Batches waiting for the cloud", value=uplink["backlog"])
    yield GaugeMetricFamily(
        "edge_agent_outbox_oldest_age_seconds",
        "Age of the oldest pending batch",
        value=uplink["oldest_pending_age_s"] or 0.0,
    )
    yield CounterMetricFamily(
        "edge_agent_outbox_dropped", "Batches dropped by the backlog bound", value=uplink["dropped"]
    )
    yield GaugeMetricFamily(
        "edge_agent_uplink_connected",
        "1 when the last send succeeded",
        value=1.0 if uplink["state"] == "connected" else 0.0,
    )


def _links(snap: dict[str, Any]) -> Iterator[Metric]:
    links = snap.get("links", {})
    up = GaugeMetricFamily("edge_agent_link_up", "1 when the link is connected", labels=["link"])
    failures = CounterMetricFamily("edge_agent_link_failures", "Failed connection attempts", labels=["link"])
    for name, link in links.items():
        up.add_metric([name], 1.0 if link["state"] == "connected" else 0.0)
        failures.add_metric([name], link["failures"])
    yield up
    yield failures


def _sinks(snap: dict[str, Any]) -> Iterator[Metric]:
    sinks = snap.get("sinks", {})
    delivered = CounterMetricFamily("edge_agent_sink_delivered", "Items delivered per sink", labels=["sink"])
    dropped = CounterMetricFamily("edge_agent_sink_dropped", "Items dropped by a full sink queue", labels=["sink"])
    failed = CounterMetricFamily("edge_agent_sink_failed", "Deliveries that raised", labels=["sink"])
    for name, sink in sinks.items():
        delivered.add_metric([name], sink["delivered"])
        dropped.add_metric([name], sink["dropped"])
        failed.add_metric([name], sink["failed"])
    yield delivered
    yield dropped
    yield failed


def render(snapshot: Callable[[], dict[str, Any]]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)
