"""`/metrics`: the components' samples in Prometheus text format (nothing kept between scrapes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..core.component import Sample

PREFIX = "edge_agent_"


class SampleCollector(Collector):
    """Groups one scrape's samples into metric families by name."""

    def __init__(self, samples: Callable[[], Iterable[Sample]]) -> None:
        self._samples = samples

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for sample in self._samples():
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = _family(sample)
            labels = [value for _, value in sample.labels]
            if sample.value is None:
                continue
            if isinstance(family, HistogramMetricFamily):
                family.add_metric(labels, list(sample.buckets), sample.value)
            else:
                family.add_metric(labels, sample.value)  # type: ignore[attr-defined]
        yield from families.values()


def _family(sample: Sample) -> Metric:
    name, labels = PREFIX + sample.name, [key for key, _ in sample.labels]
    if sample.kind == "histogram":
        return HistogramMetricFamily(name, sample.help, labels=labels)
    if sample.kind == "gauge":
        return GaugeMetricFamily(name, sample.help, labels=labels)
    return CounterMetricFamily(name, sample.help, labels=labels)


def render(samples: Callable[[], Iterable[Sample]]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SampleCollector(samples))
    return generate_latest(registry)
