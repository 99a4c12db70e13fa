"""``fluoroscope bench``: load generators that print the figures the project commits to.

``bench ingest`` offers X-Ray segments over UDP at a fixed rate and reports what was stored,
what was lost and why, whether a sample reads back whole, the time from datagram to
queryable, and the collector's memory. ``bench query`` fills a store with traces and times
the queries boto3 and the console make most. ``bench graph`` times filter expressions and
the service graph on a store of many services. ``bench pipeline`` times the pipeline thread per
document, with and without the collector's own sampling. ``bench otlp`` offers spans in OTLP/gRPC
export requests at a fixed rate and reports what was stored, what was refused and lost, the
export calls' latency, and the collector's memory.

Modules: ``segments`` (the document generator), ``senders`` (paced sending processes),
``probes`` (latency probes and the memory sampler), ``client`` (starting a collector, its
metrics and API), ``report`` (the printed table), and one module per subcommand.
"""

import argparse
from typing import Any

from fluoroscope.cli.bench import graph, ingest, otlp, pipeline, query


def add_parser(commands: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench`` and its subcommands."""
    parser = commands.add_parser("bench", help="measure a collector")
    benches = parser.add_subparsers(dest="bench", required=True, metavar="BENCH")
    ingest.add_parser(benches)
    query.add_parser(benches)
    graph.add_parser(benches)
    pipeline.add_parser(benches)
    otlp.add_parser(benches)
