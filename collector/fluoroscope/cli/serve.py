"""``fluoroscope serve``: run the collector until SIGTERM or SIGINT."""

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from fluoroscope import config as configuration
from fluoroscope.app.collector import Collector
from fluoroscope.errors import ConfigError, StoreError
from fluoroscope.runtime import tune_runtime

log = logging.getLogger("fluoroscope")


def add_parser(commands: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``serve`` and its flags (the flags of the interface contract)."""
    parser = commands.add_parser(
        "serve",
        help="run the collector",
        description="Run the collector: X-Ray UDP and the X-Ray API, with its embedded store. "
        "Settings come from flags, then FLUOROSCOPE_* variables, then the TOML file, "
        "then defaults.",
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    for option in configuration.OPTIONS:
        if option.flag is not None:
            parser.add_argument(
                option.flag, dest=option.name, metavar=option.name.upper(), help=option.help
            )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the configuration, start the collector, and serve until told to stop."""
    flags = {o.name: getattr(args, o.name) for o in configuration.OPTIONS if o.flag is not None}
    try:
        config = configuration.load(flags, os.environ, args.config)
    except ConfigError as exc:
        print(f"fluoroscope: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        import uvloop  # noqa: PLC0415  (optional speed-up, absent on some platforms)
    except ImportError:
        return asyncio.run(_serve(config))
    return uvloop.run(_serve(config))


async def _serve(config: configuration.Config) -> int:
    tune_runtime()
    try:
        collector = Collector(config)
    except ConfigError as exc:
        print(f"fluoroscope: {exc}", file=sys.stderr)
        return 2
    try:
        lines = await collector.start()
    except StoreError as exc:
        print(f"fluoroscope: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"fluoroscope: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    for line in lines:
        print(line, flush=True)
    await stop.wait()
    log.info("stopping: draining accepted documents into the store")
    await collector.stop()
    log.info("stopped")
    return 0
