"""Writing ``metadata.otel``: what a span has that the document made from it does not give back.

The namespace's shape, and how it is read, are in ``_otel``; this half runs once per span
translated, so it is compiled, while ``_otel`` (whose classes msgspec decodes into) is not.
"""

from typing import Any

from fluoroscope.translate.otlp._record import ResourceRecord, ScopeRecord, SpanRecord
from fluoroscope.translate.otlp._values import Attributes, key_values


def describe(
    span: SpanRecord,
    document_span: SpanRecord,
    resource: ResourceRecord,
    document_resource: Attributes,
    scope: ScopeRecord,
    renamed: dict[str, str],
) -> dict[str, Any]:
    """What ``span`` (with its resource and scope) has that ``document_span`` lacks."""
    out: dict[str, Any] = {}
    if span.name != document_span.name:
        out["name"] = span.name
    if span.kind != document_span.kind:
        out["kind"] = span.kind
    if span.start != document_span.start:
        out["startTimeUnixNano"] = str(span.start)
    if span.end != document_span.end:
        out["endTimeUnixNano"] = str(span.end)
    if span.trace_state:
        out["traceState"] = span.trace_state
    if span.flags:
        out["flags"] = span.flags
    _attribute_difference(out, span.attributes, document_span.attributes)
    if span.dropped_attributes_count:
        out["droppedAttributesCount"] = span.dropped_attributes_count
    if span.events != document_span.events:
        out["events"] = span.events
    if span.dropped_events_count:
        out["droppedEventsCount"] = span.dropped_events_count
    if span.links != document_span.links:
        out["links"] = span.links
    if span.dropped_links_count:
        out["droppedLinksCount"] = span.dropped_links_count
    status = (span.status_code, span.status_message)
    if status != (document_span.status_code, document_span.status_message):
        out["status"] = {
            key: value
            for key, value in (("code", span.status_code), ("message", span.status_message))
            if value
        }
    resource_out: dict[str, Any] = {}
    _attribute_difference(resource_out, resource.attributes, document_resource)
    if resource.dropped_attributes_count:
        resource_out["droppedAttributesCount"] = resource.dropped_attributes_count
    if resource.schema_url:
        resource_out["schemaUrl"] = resource.schema_url
    if resource_out:
        out["resource"] = resource_out
    scope_out = scope.to_json()
    if scope_out:
        out["scope"] = scope_out
    if renamed:
        out["annotationKeys"] = renamed
    return out


def _attribute_difference(out: dict[str, Any], actual: Attributes, implied: Attributes) -> None:
    changed = {key: value for key, value in actual.items() if implied.get(key) != value}
    if changed:
        out["attributes"] = key_values(changed)
    absent = [key for key in implied if key not in actual]
    if absent:
        out["absentAttributes"] = absent
