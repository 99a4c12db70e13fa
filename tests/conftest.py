"""Checks made once per test run, before any test."""

import pytest

from fluoroscope.runtime import stale_compiled_modules


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test stale compiled modules.

    An editable install compiles the hot modules in place (see pyproject.toml), and Python
    imports a compiled module in preference to its source: after an edit, the tests would run
    the old code.
    """
    stale = stale_compiled_modules()
    if stale:
        raise pytest.UsageError(
            f"{', '.join(stale)} changed since compiled: run `pip install -e '.[test]'` again, "
            "or delete the compiled files (`git clean -fX collector`) and install with "
            "HATCH_BUILD_NO_HOOKS=true"
        )
