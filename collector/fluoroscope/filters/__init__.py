"""The X-Ray filter expression language: parsing, printing and evaluating expressions.

:func:`parse` turns text into a :mod:`~fluoroscope.filters.ast` tree (raising
:class:`~fluoroscope.errors.FilterSyntaxError` with a position and what was expected),
:func:`format_filter` prints a tree canonically, and :func:`matches` evaluates one against a
trace's summary (:func:`predicate` makes that a function, for testing many traces);
:func:`refers_to` says whether an ``id(...)`` names a service.
"""

from fluoroscope.filters.evaluate import matches, predicate, refers_to
from fluoroscope.filters.parser import parse
from fluoroscope.filters.printer import format_filter

__all__ = ["format_filter", "matches", "parse", "predicate", "refers_to"]
