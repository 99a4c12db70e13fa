"""The public surface of ``fluoroscope.sampling``."""

from fluoroscope import sampling


def test_all_is_sorted():
    """``__all__`` is kept sorted (constants, classes, then functions), so diffs stay small."""
    constants = [name for name in sampling.__all__ if name.isupper()]
    classes = [name for name in sampling.__all__ if name[0].isupper() and not name.isupper()]
    functions = [name for name in sampling.__all__ if name[0].islower()]

    assert sampling.__all__ == sorted(constants) + sorted(classes) + sorted(functions)


def test_every_exported_name_exists_and_is_documented():
    """Each name in ``__all__`` is importable and has a docstring (constants excepted)."""
    for name in sampling.__all__:
        member = getattr(sampling, name)
        if not name.isupper():
            assert member.__doc__, name
