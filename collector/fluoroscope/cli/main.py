"""``fluoroscope``: run the collector, or measure one."""

import argparse
import sys
from collections.abc import Sequence

from fluoroscope import __version__
from fluoroscope.cli import bench, serve


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="fluoroscope",
        description="A self-hosted tracing collector and trace store "
        "for AWS X-Ray and OpenTelemetry.",
    )
    parser.add_argument("--version", action="version", version=f"fluoroscope {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parser(commands)
    bench.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
