"""Assembly: segments in, trace revisions out.

The :class:`Assembler` keeps in-flight traces in a bounded buffer, merges every document of a
trace into one tree, counts revisions, and writes each changed trace (its new documents and a
fresh summary) to the store in batches.
"""

from fluoroscope.assembly.assembler import Assembler
from fluoroscope.assembly.in_flight import AssemblyLimits, AssemblyStats

__all__ = ["Assembler", "AssemblyLimits", "AssemblyStats"]
