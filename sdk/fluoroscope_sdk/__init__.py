"""fluoroscope_sdk: instrument Python applications for Fluoroscope (and AWS X-Ray).

Stdlib only; it never imports the collector package ``fluoroscope``.
"""

__all__: list[str] = []
