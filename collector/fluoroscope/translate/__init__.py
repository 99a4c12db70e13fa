"""Pure translations between wire formats and the segment model.

Nothing here does I/O or keeps state: bytes or decoded messages in, :class:`Segment` views or
documents out.
"""
