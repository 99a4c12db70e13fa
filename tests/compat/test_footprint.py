"""A collector loads the gRPC runtime only when something it runs uses gRPC.

``fluoroscope serve`` with both OTLP receivers off and no OTLP exporter (an X-Ray-only
deployment) never maps gRPC's native library, which with its Python package costs about 8 MiB
of resident memory; with the OTLP/gRPC receiver on it does.
"""

from collections.abc import Callable

import psutil

from tests.compat.process import Collector


def _loads_grpc(collector: Collector) -> bool:
    regions = psutil.Process(collector.process.pid).memory_maps()
    return any("cygrpc" in region.path for region in regions)


def test_an_xray_only_collector_does_not_load_grpc(
    make_collector: Callable[..., Collector],
) -> None:
    """Serving the X-Ray protocols alone, the collector stores segments without gRPC."""
    collector = make_collector(otlp=False)
    status, _ = collector.get("/healthz")

    assert status == 200
    assert not collector.otlp_grpc
    assert not _loads_grpc(collector)


def test_the_otlp_grpc_receiver_loads_grpc(make_collector: Callable[..., Collector]) -> None:
    """The same check, on a collector that does use gRPC: it finds the library mapped."""
    collector = make_collector()

    assert collector.otlp_grpc
    assert _loads_grpc(collector)
