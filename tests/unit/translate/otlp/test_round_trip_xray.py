"""X-Ray -> OTLP -> X-Ray on the documents captured from aws-xray-sdk (tests/fixtures/xray).

Every semantic field of every entity comes back: ids, parent structure, names, times,
in_progress, http, aws, sql, annotations, metadata, cause, fault/error/throttle, origin, user,
namespace, and any other field.
"""

import orjson

from fluoroscope.translate.otlp import documents_to_spans, spans_to_documents

# Deliberately changed, with the reason. Everything else must come back exactly.
CHANGED = {
    "embedding": "an embedded subsegment comes back as an independent subsegment (type, "
    "trace_id and parent_id set) under the same parent; a span is one document",
    "metadata.otel.resource on formerly embedded subsegments": "an embedded subsegment shares "
    "its segment's resource; on its own, its document has to carry it",
    "false flags": "fault, error, throttle and in_progress are written only when true; absent "
    "means false",
    "remote: false on an exception": "written whether or not the document said it, since the "
    "span's kind would otherwise decide it; absent means false",
    "empty blocks": "an empty http, request, response, aws, sql, service, annotations or "
    "metadata object, or an empty links list, says nothing, and is not written",
    "document order": "documents come back grouped by resource, as OTLP groups spans; the "
    "versions of one entity keep their order",
    "metadata.default keys named like other attributes": "a metadata.default key becomes an "
    "attribute of that name, so one named like a mapped attribute (aws.region, "
    "http.request.method) comes back as the X-Ray field it maps to, and one named like an "
    "annotation comes back as the annotation only; SDKs do not write such keys",
}


def by_id(entities):
    """Entities sorted by id; the versions of one entity stay in arrival order (see CHANGED)."""
    return sorted(entities, key=lambda entity: entity["id"])


def entities(bodies):
    """Every entity of the documents, depth first, as an independent entity (see CHANGED)."""
    out = []
    for body in bodies:
        document = orjson.loads(body)
        for top in document if isinstance(document, list) else [document]:
            stack = [(top, top.get("parent_id"), top.get("type"))]
            while stack:
                entity, parent, kind = stack.pop()
                flat = {key: value for key, value in entity.items() if key != "subsegments"}
                flat["trace_id"] = top["trace_id"]
                if parent is not None:
                    flat["parent_id"] = parent
                if kind is not None:
                    flat["type"] = kind
                for flag in ("fault", "error", "throttle", "in_progress"):
                    if flat.get(flag) is False:
                        del flat[flag]
                out.append(flat)
                stack.extend(
                    (child, entity["id"], "subsegment")
                    for child in reversed(entity.get("subsegments", []))
                )
    return out


def embedded_ids(bodies):
    """The ids of the entities embedded in another one."""
    ids = set()
    for body in bodies:
        stack = [orjson.loads(body)]
        while stack:
            entity = stack.pop()
            for child in entity.get("subsegments", []):
                ids.add(child["id"])
                stack.append(child)
    return ids


def without_carried_resource(entity, embedded):
    """The entity without the resource its document carries for having been embedded."""
    metadata = entity.get("metadata", {})
    if entity["id"] in embedded and set(metadata.get("otel", {})) == {"resource"}:
        entity = dict(entity, metadata={k: v for k, v in metadata.items() if k != "otel"})
        if not entity["metadata"]:
            del entity["metadata"]
    return entity


def test_every_entity_comes_back(golden):
    """Each captured entity survives the round trip field for field."""
    embedded = embedded_ids(golden.bodies)

    request = documents_to_spans(golden.bodies)
    documents = spans_to_documents(request).documents

    back = [without_carried_resource(entity, embedded) for entity in entities(documents)]
    assert by_id(back) == by_id(entities(golden.bodies))


def test_documents_from_independent_entities_carry_no_otel_metadata(golden):
    """Only formerly embedded subsegments gain a metadata.otel namespace, holding the resource."""
    embedded = embedded_ids(golden.bodies)

    documents = spans_to_documents(documents_to_spans(golden.bodies)).documents

    otel = {
        entity["id"]: sorted(entity["metadata"]["otel"])
        for entity in entities(documents)
        if "otel" in entity.get("metadata", {})
    }
    assert otel == {entity_id: ["resource"] for entity_id in otel}
    assert set(otel) <= embedded


def test_every_entity_becomes_one_span(golden):
    """A document yields one span per segment and subsegment, embedded or not."""
    request = documents_to_spans(golden.bodies)

    spans = [span for r in request.resource_spans for s in r.scope_spans for span in s.spans]

    assert sorted(span.span_id.hex() for span in spans) == sorted(
        entity["id"] for entity in entities(golden.bodies)
    )
