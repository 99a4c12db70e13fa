"""The HTTP API on TCP 2000: the X-Ray REST API as botocore's ``xray`` model defines it,
``/healthz`` and ``/metrics``."""

from fluoroscope.api.server import ApiServer, IngestDocuments

__all__ = ["ApiServer", "IngestDocuments"]
