"""Fluoroscope: a self-hosted tracing collector and trace store for AWS X-Ray and OpenTelemetry."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fluoroscope")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
