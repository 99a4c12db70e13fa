"""``fluoroscope bench``: load generators that print the figures the project commits to."""

import argparse
from typing import Any


def add_parser(commands: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench``."""
    parser = commands.add_parser("bench", help="measure a collector")
    parser.set_defaults(run=lambda args: 0)
