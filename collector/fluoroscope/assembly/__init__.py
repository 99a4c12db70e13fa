"""Assembly: segments in, trace revisions out.

The :class:`~fluoroscope.assembly.assembler.Assembler` keeps in-flight traces in a bounded
buffer, merges every document of a trace into one tree, counts revisions, and writes each
changed trace (its new documents and a fresh summary) to the store in batches.

Nothing is imported here: summary processes import :mod:`fluoroscope.assembly.summaries`
alone, without the assembler, its sampling stages and their dependencies (about 9 MiB less
in each).
"""
