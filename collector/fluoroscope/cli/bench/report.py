"""Printing a benchmark's results: what it ran, then its figures, as an aligned table."""

import math
import os
import platform
import statistics
from collections.abc import Sequence

from fluoroscope.runtime import build


class Report:
    """Rows of (what, figure) under section headings, printed as one aligned table."""

    def __init__(self, title: str) -> None:
        self._title = title
        self._rows: list[tuple[str, str] | str] = []

    def section(self, heading: str) -> None:
        """Start a section."""
        self._rows.append(heading)

    def row(self, name: str, value: str) -> None:
        """Add a figure to the current section."""
        self._rows.append((name, value))

    def render(self) -> str:
        """The table as text."""
        width = max((len(r[0]) for r in self._rows if isinstance(r, tuple)), default=0) + 2
        lines = [self._title, "=" * len(self._title)]
        for entry in self._rows:
            if isinstance(entry, str):
                lines += ["", entry]
            else:
                name, value = entry
                lines.append(f"  {name.ljust(width)}{value}")
        return "\n".join(lines)


def machine() -> str:
    """The cores, system and Python the figures were measured on."""
    return (
        f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()} "
        f"{platform.release()}), Python {platform.python_version()}, {build()}"
    )


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted ``ordered`` (``fraction`` 0.5 is the median)."""
    if fraction == 0.5:
        return statistics.median(ordered)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def milliseconds(samples: Sequence[float], *, digits: int = 0) -> str:
    """``p50 ... ms, p99 ... ms, max ... ms`` of durations given in seconds."""
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    figures = [
        f"{label} {value * 1000:,.{digits}f} ms"
        for label, value in (
            ("p50", percentile(ordered, 0.5)),
            ("p99", percentile(ordered, 0.99)),
            ("max", ordered[-1]),
        )
    ]
    return ", ".join(figures)


def mebibytes(samples: Sequence[int]) -> str:
    """``median ... MiB, max ... MiB`` of byte counts."""
    if not samples:
        return "not measured"
    mib = 1 << 20
    return f"median {statistics.median(samples) / mib:,.0f} MiB, max {max(samples) / mib:,.0f} MiB"
