"""OTLP traces against X-Ray segment documents, both ways, with nothing lost that matters.

:func:`spans_to_documents` turns an OTLP export request into segment documents the way the
OpenTelemetry Collector's X-Ray exporter does, and :func:`documents_to_spans` reads documents
back the way its X-Ray receiver does. What OTLP has and X-Ray lacks (span kinds, events, links,
resource and scope, status messages, exact times) travels under the ``otel`` metadata namespace,
and X-Ray fields with no OpenTelemetry convention travel as ``aws.xray.<path>`` attributes, so a
span survives the round trip to a document, and a document the round trip to a span.

One module per facet: ``_ids`` (ids and times), ``_names``, ``_http``, ``_aws``, ``_sql``,
``_cause`` (with ``_stacks``), ``_resource``, ``_annotations``, ``_fields``, ``_otel``; the two
directions are ``_to_xray`` and ``_from_xray``. Nothing here does I/O.
"""

from fluoroscope.translate.otlp._annotations import MAX_ANNOTATIONS_PER_DOCUMENT
from fluoroscope.translate.otlp._from_xray import documents_to_spans
from fluoroscope.translate.otlp._ids import otel_trace_id, xray_trace_id
from fluoroscope.translate.otlp._names import sanitize_name
from fluoroscope.translate.otlp._to_xray import Translation, spans_to_documents

__all__ = [
    "MAX_ANNOTATIONS_PER_DOCUMENT",
    "Translation",
    "documents_to_spans",
    "otel_trace_id",
    "sanitize_name",
    "spans_to_documents",
    "xray_trace_id",
]
