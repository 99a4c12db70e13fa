"""The public surface of ``fluoroscope.filters``."""

from fluoroscope import filters


def test_all_is_sorted() -> None:
    """``__all__`` is kept sorted, so diffs stay small."""
    assert filters.__all__ == sorted(filters.__all__)


def test_every_exported_name_exists_and_is_documented() -> None:
    """Each name in ``__all__`` is importable and has a docstring."""
    for name in filters.__all__:
        assert getattr(filters, name).__doc__, name
