"""Argument types the benchmarks share."""

import argparse
import math
from collections.abc import Callable


def positive(text: str) -> float:
    """A finite number above zero."""
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, not {text}")
    return value


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low}-{high}, not {text}")
        return value

    return parse
