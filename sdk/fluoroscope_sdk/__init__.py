"""fluoroscope_sdk: instrumenting Python applications for Fluoroscope (and AWS X-Ray).

Not written yet: the package is a placeholder and offers nothing to import. Until it is, use the
aws-xray-sdk or the OpenTelemetry SDK, both of which send to Fluoroscope unmodified. It will be
stdlib only, and will never import the collector package ``fluoroscope``.
"""

__all__: list[str] = []
