"""Checks made once per test run, before any test."""

from pathlib import Path

import pytest

COLLECTOR = Path(__file__).resolve().parent.parent / "collector"


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test stale compiled modules.

    An editable install compiles the hot modules in place (see pyproject.toml), and Python
    imports a compiled module in preference to its source: after an edit, the tests would run
    the old code.
    """
    stale = [
        str(source.relative_to(COLLECTOR))
        for compiled in COLLECTOR.rglob("*.so")
        if (source := compiled.with_name(compiled.name.split(".", 1)[0] + ".py")).exists()
        and source.stat().st_mtime > compiled.stat().st_mtime
    ]
    if stale:
        raise pytest.UsageError(
            f"{', '.join(sorted(stale))} changed since it was compiled; run "
            "`pip install -e '.[test]'` again (or HATCH_BUILD_NO_HOOKS=true for no compiling)"
        )
