"""What BatchGetTraces returns: one processed document per segment (xray-protocol.md 4.6, 7.6)."""

import itertools
import json

import orjson
import pytest

from fluoroscope.translate.xray_documents import processed_documents

ROOT = "00000000000000a0"
STEP = "00000000000000b0"
INNER = "00000000000000c0"
LEAF = "00000000000000c1"
MISSING = "00000000000000ff"
START = 1795579417.0


def skeleton(entity):
    """An entity as ids and names only, children sorted by id."""
    out = {"id": entity["id"], "name": entity["name"]}
    children = entity.get("subsegments")
    if children:
        out["subsegments"] = sorted((skeleton(child) for child in children), key=lambda s: s["id"])
    return out


def skeletons(processed):
    """Every returned document as a skeleton."""
    return [skeleton(orjson.loads(body)) for _, body in processed.documents]


def encode(*documents):
    """Documents as the store holds them."""
    return [orjson.dumps(document) for document in documents]


@pytest.fixture
def subsegment(make_document):
    """An independent subsegment named after its id."""

    def build(entity_id, parent_id, **fields):
        fields.setdefault("name", f"sub-{entity_id[-2:]}")
        return make_document(id=entity_id, type="subsegment", parent_id=parent_id, **fields)

    return build


def test_golden_captures_fold_into_the_expected_documents(golden, make_harness):
    """Stored captures come back as the expected processed documents."""
    harness = make_harness()
    harness.add(*golden.bodies)
    harness.assembler.flush()
    stored = harness.sink.documents(golden.expected["trace_id"])

    processed = processed_documents(stored)

    assert skeletons(processed) == golden.expected["processed"]


@pytest.mark.parametrize("name", ["minimal", "full", "throttle_429", "error_404"])
def test_a_segment_needing_no_folding_is_returned_byte_for_byte(golden_named, name):
    """What was received is what is returned, down to the spaces."""
    bodies = golden_named(name).bodies

    processed = processed_documents(bodies)

    sent = [body for _, body in processed.documents if not orjson.loads(body).get("inferred")]
    assert sent == bodies


def test_documents_are_returned_under_their_own_ids(golden_named):
    """Each returned document is paired with its segment id."""
    golden = golden_named("full")

    processed = processed_documents(golden.bodies)

    assert [doc_id for doc_id, _ in processed.documents] == [
        "eb6bda578e393f69",
        "39f7baf6c465cfb9",  # inferred: payments.example.com
        "e4fd963db2496deb",  # inferred: the DynamoDB table orders
    ]
    for doc_id, body in processed.documents:
        assert orjson.loads(body)["id"] == doc_id


def test_the_golden_streamed_trace_is_one_document(golden_named):
    """Threshold 1: eight datagrams make one segment document holding every subsegment."""
    golden = golden_named("streaming_threshold_1")

    processed = processed_documents(golden.bodies)

    ((doc_id, body),) = processed.documents
    assert doc_id == "b0c6502f39488bff"
    assert body.count(b'"id"') == 9


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_folding_works_at_any_depth_in_any_order(make_document, subsegment, order):
    """A streamed subsegment finds its parent whether it is embedded, streamed, early or late."""
    documents = [
        make_document(id=ROOT, subsegments=[make_document(id=STEP, name="embedded")]),
        subsegment(INNER, STEP),
        subsegment(LEAF, INNER),
        subsegment("00000000000000c2", ROOT),
    ]
    stored = encode(*(documents[i] for i in order))

    processed = processed_documents(stored)

    assert skeletons(processed) == [
        {
            "id": ROOT,
            "name": "checkout",
            "subsegments": [
                {
                    "id": STEP,
                    "name": "embedded",
                    "subsegments": [
                        {
                            "id": INNER,
                            "name": "sub-c0",
                            "subsegments": [{"id": LEAF, "name": "sub-c1"}],
                        }
                    ],
                },
                {"id": "00000000000000c2", "name": "sub-c2"},
            ],
        }
    ]


def test_a_folded_document_keeps_every_field(make_document, subsegment):
    """Folding moves the subsegment whole, with its own fields."""
    sub = subsegment(STEP, ROOT, annotations={"k": 1}, metadata={"ns": {"a": [1, 2]}})

    processed = processed_documents(encode(make_document(id=ROOT), sub))

    ((_, body),) = processed.documents
    assert orjson.loads(body)["subsegments"] == [sub]


def test_an_independent_copy_replaces_the_embedded_one(make_document, subsegment):
    """A subsegment sent again on its own replaces its embedded version, once."""
    embedded = make_document(id=STEP, name="old", in_progress=True)
    root = make_document(id=ROOT, subsegments=[embedded])
    replacement = subsegment(STEP, ROOT, name="new")

    processed = processed_documents(encode(root, replacement))

    ((_, body),) = processed.documents
    assert [s["name"] for s in orjson.loads(body)["subsegments"]] == ["new"]


def test_an_in_progress_copy_does_not_replace_a_completed_embedded_one(make_document, subsegment):
    """A late in-progress version never reopens a completed one."""
    root = make_document(id=ROOT, subsegments=[make_document(id=STEP, name="done")])
    late = subsegment(STEP, ROOT, name="open", in_progress=True)

    processed = processed_documents(encode(root, late))

    ((_, body),) = processed.documents
    assert [s["name"] for s in orjson.loads(body)["subsegments"]] == ["done"]


def test_a_child_of_a_replaced_subsegment_is_kept(make_document, subsegment):
    """A streamed child stays in the trace when its parent's embedded copy is replaced."""
    root = make_document(
        id=ROOT, in_progress=True, subsegments=[make_document(id=STEP, in_progress=True)]
    )
    stored = encode(root, subsegment(INNER, STEP), subsegment(STEP, ROOT))

    processed = processed_documents(stored)

    assert skeletons(processed) == [
        {
            "id": ROOT,
            "name": "checkout",
            "subsegments": [
                {"id": STEP, "name": "sub-b0", "subsegments": [{"id": INNER, "name": "sub-c0"}]}
            ],
        }
    ]


def test_an_orphan_is_returned_on_its_own(make_document, subsegment):
    """A subsegment whose parent never arrived is returned rather than hidden."""
    orphan = subsegment(STEP, MISSING)
    root = make_document(id=ROOT)

    processed = processed_documents(encode(orphan, root))

    assert [doc_id for doc_id, _ in processed.documents] == [ROOT, STEP]
    assert processed.documents[1][1] == orjson.dumps(orphan)


def test_subsegments_that_are_each_others_parents_are_still_returned(make_document, subsegment):
    """A cycle of parents has no top: its first member tops a document, rather than the
    whole cycle vanishing from BatchGetTraces."""
    first = subsegment(STEP, INNER)
    second = subsegment(INNER, STEP)
    root = make_document(id=ROOT)

    processed = processed_documents(encode(root, first, second))

    assert [doc_id for doc_id, _ in processed.documents] == [ROOT, STEP]
    ((_, cycle),) = [item for item in processed.documents if item[0] == STEP]
    assert [sub["id"] for sub in orjson.loads(cycle)["subsegments"]] == [INNER]


def test_documents_are_returned_by_start_time(make_document, subsegment):
    """Processed documents come in start order, not arrival order."""
    later = make_document(id=ROOT, start_time=START + 1, end_time=START + 2)
    orphan = subsegment(STEP, MISSING, start_time=START, end_time=START + 0.5)

    processed = processed_documents(encode(later, orphan))

    assert [doc_id for doc_id, _ in processed.documents] == [STEP, ROOT]


def test_a_streamed_child_of_an_orphan_is_folded_under_it(subsegment):
    """Only the subtree's top is missing its parent (the Lambda shape): one document returns."""
    stored = encode(subsegment(INNER, STEP), subsegment(STEP, MISSING))

    processed = processed_documents(stored)

    assert skeletons(processed) == [
        {"id": STEP, "name": "sub-b0", "subsegments": [{"id": INNER, "name": "sub-c0"}]}
    ]


def test_duration_runs_from_the_earliest_start_to_the_latest_end(make_document, subsegment):
    """Duration spans every returned document."""
    root = make_document(id=ROOT, start_time=START, end_time=START + 1.0)
    downstream = make_document(parent_id=STEP, start_time=START + 0.5, end_time=START + 2.5)

    processed = processed_documents(encode(root, downstream))

    assert processed.duration == pytest.approx(2.5)


def test_an_in_progress_document_ends_at_its_start_for_duration(make_document):
    """Without an end, an open document counts up to its start."""
    root = make_document(id=ROOT, start_time=START, end_time=START + 1.0)
    open_segment = make_document(parent_id=STEP, start_time=START + 3.0, in_progress=True)

    processed = processed_documents(encode(root, open_segment))

    assert processed.duration == pytest.approx(3.0)


def test_no_documents_make_an_empty_trace():
    """Nothing stored: nothing returned, zero duration."""
    processed = processed_documents([])

    assert processed.documents == []
    assert processed.duration == 0.0


def test_stored_text_that_is_not_a_document_is_skipped(make_document):
    """One unreadable row never costs the rest of the trace."""
    root = make_document(id=ROOT)

    processed = processed_documents([b"not json", b"[1, 2]", orjson.dumps(root)])

    assert [doc_id for doc_id, _ in processed.documents] == [ROOT]


def test_an_unanswered_aws_call_gets_an_inferred_segment(make_document):
    """A DynamoDB call no segment answered comes back as the table's inferred segment, with
    the call's times, flags and aws block, under the name and type the service graph uses."""
    call = {
        "id": STEP,
        "name": "dynamodb",
        "namespace": "aws",
        "start_time": START + 0.1,
        "end_time": START + 0.3,
        "throttle": True,
        "error": True,
        "http": {"response": {"status": 400}},
        "aws": {"operation": "GetItem", "table_name": "orders", "region": "eu-west-1"},
    }
    root = make_document(id=ROOT, subsegments=[call])

    processed = processed_documents(encode(root))

    (inferred,) = [orjson.loads(body) for _, body in processed.documents][1:]
    assert inferred == {
        "id": inferred["id"],
        "name": "orders",
        "trace_id": root["trace_id"],
        "start_time": START + 0.1,
        "end_time": START + 0.3,
        "parent_id": STEP,
        "inferred": True,
        "origin": "AWS::DynamoDB::Table",
        "http": {"response": {"status": 400}},
        "aws": {"operation": "GetItem", "table_name": "orders", "region": "eu-west-1"},
        "error": True,
        "throttle": True,
    }
    assert len(inferred["id"]) == 16
    assert int(inferred["id"], 16) >= 0
    again = processed_documents(encode(root))
    assert again.documents == processed.documents


def test_an_answered_call_and_a_local_one_get_no_inferred_segment(make_document):
    """A remote call whose callee sent a segment is that segment, not an inferred one; a
    local subsegment calls nobody."""
    calls = [
        {"id": STEP, "name": "orders", "namespace": "remote", "start_time": START},
        {"id": INNER, "name": "compute", "start_time": START},
    ]
    root = make_document(id=ROOT, subsegments=calls)
    callee = make_document(id=LEAF, name="orders", parent_id=STEP)

    processed = processed_documents(encode(root, callee))

    assert [doc_id for doc_id, _ in processed.documents] == [ROOT, LEAF]


def test_an_inferred_segment_keeps_a_call_in_progress_open(make_document, subsegment):
    """A remote call still in progress makes an inferred segment in progress, of type-less
    remote origin; a call whose segment never arrived makes none."""
    root = make_document(id=ROOT)
    open_call = subsegment(STEP, ROOT, name="api.example.com", namespace="remote", in_progress=True)
    stray = subsegment(INNER, MISSING, name="s3", namespace="aws")

    processed = processed_documents(encode(root, open_call, stray))

    returned = [orjson.loads(body) for _, body in processed.documents]
    (document,) = [d for d in returned if d.get("inferred")]
    assert document["name"] == "api.example.com"
    assert document["in_progress"] is True
    assert "end_time" not in document
    assert "origin" not in document


def test_a_document_holding_numbers_past_a_double_is_returned_and_folded(make_document, subsegment):
    """The validator skips metadata, so a stored document may hold an integer of 400 digits
    or 1e400: BatchGetTraces returns it, folded with its subsegments, never leaves it out."""
    root = orjson.dumps(make_document(id=ROOT)).replace(
        b'"name"', b'"metadata":{"d":{"n":' + b"9" * 400 + b',"f":1e400}},"name"'
    )
    child = encode(subsegment(STEP, ROOT))[0]

    processed = processed_documents([root, child])

    ((doc_id, body),) = processed.documents
    returned = json.loads(body)
    assert doc_id == ROOT
    assert returned["metadata"]["d"] == {"n": int("9" * 400), "f": None}
    assert [s["id"] for s in returned["subsegments"]] == [STEP]
