"""``fluoroscope``: run the collector, or measure one."""

import argparse
import importlib.util
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
    _spawn_helpers_lightly()
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


def _spawn_helpers_lightly() -> None:
    """Keep helper processes from importing the whole command line.

    A spawned helper first re-imports its parent's main module. Started as the ``fluoroscope``
    console script, that is the script, which imports this module and with it every
    subcommand (aiohttp, grpc, ...): some 45 MiB more in each helper. A main module known by
    the name of a package's ``__main__`` is not re-imported, so the script is given the name
    of ``python -m fluoroscope``'s.
    """
    script = sys.modules.get("__main__")
    if script is not None and getattr(script, "__spec__", None) is None:
        script.__spec__ = importlib.util.find_spec("fluoroscope.__main__")


if __name__ == "__main__":
    sys.exit(main())
