"""Fluoroscope: a self-hosted tracing collector and trace store for AWS X-Ray and OpenTelemetry."""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # The version comes from the installed metadata when it is first asked for: importing
    # importlib.metadata costs helper processes, which never ask, about 2 MiB each.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        found = version("fluoroscope")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0"
    globals()["__version__"] = found
    return found
