"""Self-telemetry: counters and gauges, exposed in the Prometheus text format at ``/metrics``.

Hot paths increment plain integers (one writer thread per counter, so no lock is needed); the
Prometheus exposition is rendered by ``prometheus_client`` from a collector that reads them.
Every drop anywhere in the pipeline has a counter here, labelled by its reason.
"""

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "Counter", "CounterFamily", "Registry"]


class Counter:
    """A monotonically increasing count, written by a single thread."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self, amount: int = 1) -> None:
        """Add ``amount`` (never negative)."""
        self.value += amount


class CounterFamily:
    """Counters sharing a name, one per combination of label values."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self._children: dict[tuple[str, ...], Counter] = {}

    def child(self, *values: str) -> Counter:
        """The counter for these label values, created at zero on first use."""
        counter = self._children.get(values)
        if counter is None:
            counter = self._children.setdefault(values, Counter())
        return counter

    def samples(self) -> list[tuple[tuple[str, ...], int]]:
        """Each label combination with its current value."""
        return [(labels, counter.value) for labels, counter in list(self._children.items())]


GaugeReader = Callable[[], float | Iterable[tuple[tuple[str, ...], float]]]


class _Gauge:
    def __init__(
        self, name: str, documentation: str, labels: tuple[str, ...], read: GaugeReader
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.read = read


class Registry(Collector):
    """Every metric of one collector process."""

    def __init__(self) -> None:
        self._counters: dict[str, CounterFamily] = {}
        self._gauges: dict[str, _Gauge] = {}
        self._read_counters: dict[str, tuple[str, Callable[[], int]]] = {}
        self._prometheus = CollectorRegistry(auto_describe=False)
        self._prometheus.register(self)

    def counter(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> CounterFamily:
        """Declare (or fetch) a counter family; ``name`` omits the ``_total`` suffix."""
        family = self._counters.get(name)
        if family is None:
            family = self._counters[name] = CounterFamily(name, documentation, labels)
        return family

    def gauge(
        self,
        name: str,
        documentation: str,
        read: GaugeReader,
        labels: tuple[str, ...] = (),
    ) -> None:
        """Declare a gauge whose value is read when the metrics are rendered."""
        self._gauges[name] = _Gauge(name, documentation, labels, read)

    def counter_reader(self, name: str, documentation: str, read: Callable[[], int]) -> None:
        """Declare a counter kept elsewhere (by a component that owns it), read when rendered."""
        self._read_counters[name] = (documentation, read)

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family (the prometheus_client collector protocol)."""
        for family in self._counters.values():
            metric = CounterMetricFamily(family.name, family.documentation, labels=family.labels)
            for labels, value in family.samples():
                metric.add_metric(list(labels), value)
            yield metric
        for name, (documentation, read) in self._read_counters.items():
            read_metric = CounterMetricFamily(name, documentation)
            read_metric.add_metric([], read())
            yield read_metric
        for gauge in self._gauges.values():
            gauge_metric = GaugeMetricFamily(gauge.name, gauge.documentation, labels=gauge.labels)
            reading = gauge.read()
            if isinstance(reading, int | float):
                gauge_metric.add_metric([], float(reading))
            else:
                for labels, reading_value in reading:
                    gauge_metric.add_metric(list(labels), float(reading_value))
            yield gauge_metric

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self._prometheus)

    def value(self, name: str, *labels: str) -> int:
        """A counter's current value (0 if never incremented); for tests and the CLI."""
        if name in self._read_counters:
            return self._read_counters[name][1]()
        family = self._counters.get(name)
        return family.child(*labels).value if family is not None else 0
