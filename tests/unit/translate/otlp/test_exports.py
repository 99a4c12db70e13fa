"""The package's public surface."""

from fluoroscope.translate import otlp


def test_the_public_names_are_sorted_and_exported():
    """__all__ is sorted and names only what the package defines."""
    assert otlp.__all__ == sorted(otlp.__all__)
    assert all(hasattr(otlp, name) for name in otlp.__all__)
