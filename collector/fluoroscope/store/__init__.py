"""The embedded trace store: SQLite in WAL mode under the data directory.

One writer thread (:class:`.writer.TraceWriter`) stores trace revisions in batched
transactions; any number of readers (:class:`.reader.TraceReader`) query with their own
connections. :class:`.store.TraceSink` is the narrow interface the assembler writes through;
:class:`.memory.InMemoryTraceSink` implements it for tests. What crosses the store's boundary
is in :mod:`.types`.

The package imports nothing itself: summary processes use :mod:`.types` and
:mod:`.summary_codec` without loading SQLite and the rest of the store.
"""
