"""Printing benchmark results as an aligned two-column table."""

from collections.abc import Sequence


def print_table(title: str, rows: Sequence[tuple[str, str]]) -> None:
    """Print ``rows`` of (what, figure) under ``title``."""
    width = max(len(name) for name, _ in rows)
    print(title)
    print("-" * len(title))
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
