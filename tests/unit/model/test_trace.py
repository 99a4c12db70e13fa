"""Trace trees built from documents arriving in any order (xray-protocol.md 4.6)."""

import itertools

import orjson
import pytest

from fluoroscope.model.segment import view_of
from fluoroscope.model.trace import Completeness, TraceTree, supersedes

ROOT = "00000000000000a0"
STEP = "00000000000000b0"
INNER = "00000000000000c0"
CALL = "00000000000000d0"
DOWNSTREAM = "00000000000000e0"
MISSING = "00000000000000ff"


@pytest.fixture
def views(make_document, parse):
    """Turn document dicts into top-level Segment views."""

    def build(*documents):
        return [parse(document).view() for document in documents]

    return build


@pytest.fixture
def streamed(make_document):
    """A segment, a streamed step under it, and a streamed inner step under that."""
    root = make_document(id=ROOT)
    step = make_document(id=STEP, type="subsegment", parent_id=ROOT)
    inner = make_document(id=INNER, type="subsegment", parent_id=STEP)
    return root, step, inner


def test_golden_streamed_captures_form_one_complete_tree(golden_named):
    """Threshold 1: every streamed subsegment finds the segment, whatever came first."""
    golden = golden_named("streaming_threshold_1")
    documents = [d.view() for d in golden.documents()]

    tree = TraceTree(documents)

    root = documents[-1]
    assert tree.completeness is Completeness.COMPLETE
    assert tree.root is root
    assert {tree.segment_of(entity_id).id for entity_id in tree.entities} == {root.id}
    assert len(tree.entities) == 9


def test_a_child_arriving_before_its_parent_is_attached_to_it(streamed, views):
    """An inner subsegment streamed before its parent step still ends up under the segment."""
    root, step, inner = streamed

    tree = TraceTree(views(inner, step, root))

    assert tree.parent[INNER] == STEP
    assert tree.parent[STEP] == ROOT
    assert tree.segment_of(INNER).id == ROOT
    assert tree.completeness is Completeness.COMPLETE


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_arrival_order_does_not_change_the_tree(streamed, views, order):
    """Parents and owners are the same in every arrival order."""
    documents = [streamed[i] for i in order]

    tree = TraceTree(views(*documents))

    assert tree.parent == {ROOT: None, STEP: ROOT, INNER: STEP}
    assert {tree.owner[i] for i in (ROOT, STEP, INNER)} == {ROOT}
    assert tree.completeness is Completeness.COMPLETE


def test_a_streamed_subsegment_finds_its_parent_embedded_in_a_later_segment(make_document, views):
    """The parent subsegment may only arrive embedded in the final segment document."""
    inner = make_document(id=INNER, type="subsegment", parent_id=STEP)
    root = make_document(id=ROOT, subsegments=[make_document(id=STEP)])

    tree = TraceTree(views(inner, root))

    assert tree.parent[INNER] == STEP
    assert tree.segment_of(INNER).id == ROOT
    assert tree.completeness is Completeness.COMPLETE


def test_a_subsegment_whose_parent_never_arrived_leaves_the_trace_incomplete(make_document, views):
    """An orphan means something is missing."""
    root = make_document(id=ROOT)
    orphan = make_document(id=STEP, type="subsegment", parent_id=MISSING)

    tree = TraceTree(views(root, orphan))

    assert tree.completeness is Completeness.INCOMPLETE
    assert tree.segment_of(STEP) is None
    assert tree.root.id == ROOT


def test_the_children_of_an_orphan_have_no_segment_either(make_document, views):
    """A subtree hanging from a missing parent belongs to no service yet."""
    orphan = make_document(id=STEP, type="subsegment", parent_id=MISSING)
    inner = make_document(id=INNER, type="subsegment", parent_id=STEP)

    tree = TraceTree(views(make_document(id=ROOT), inner, orphan))

    assert tree.segment_of(INNER) is None
    assert tree.completeness is Completeness.INCOMPLETE


def test_only_subsegments_make_no_root_and_an_incomplete_trace(make_document, views):
    """Without any segment there is no entry point."""
    sub = make_document(id=STEP, type="subsegment", parent_id=ROOT)

    tree = TraceTree(views(sub))

    assert tree.root is None
    assert tree.completeness is Completeness.INCOMPLETE


def test_an_in_progress_segment_makes_the_trace_in_progress(make_document, views):
    """Anything still open keeps the trace in progress."""
    root = make_document(id=ROOT, in_progress=True)

    tree = TraceTree(views(root))

    assert tree.completeness is Completeness.IN_PROGRESS


def test_an_in_progress_subsegment_makes_the_trace_in_progress(make_document, views):
    """In progress outranks incomplete and complete."""
    root = make_document(id=ROOT)
    sub = make_document(id=STEP, type="subsegment", parent_id=ROOT, in_progress=True)

    tree = TraceTree(views(root, sub))

    assert tree.completeness is Completeness.IN_PROGRESS


def test_an_in_progress_embedded_subsegment_makes_the_trace_in_progress(make_document, views):
    """Embedded entities count too."""
    root = make_document(id=ROOT, subsegments=[make_document(id=STEP, in_progress=True)])

    tree = TraceTree(views(root))

    assert tree.completeness is Completeness.IN_PROGRESS


def test_a_completed_version_replaces_the_in_progress_one(make_document, views):
    """The last version of an entity wins."""
    open_root = make_document(id=ROOT, in_progress=True)
    closed_root = make_document(id=ROOT)

    tree = TraceTree(views(open_root, closed_root))

    assert not tree.entities[ROOT].in_progress


def test_a_late_in_progress_version_never_reopens_a_completed_one(make_document, views):
    """UDP may deliver the in-progress version after the completed one."""
    closed_sub = make_document(id=STEP, type="subsegment", parent_id=ROOT)
    open_sub = make_document(id=STEP, type="subsegment", parent_id=ROOT, in_progress=True)

    tree = TraceTree(views(make_document(id=ROOT), closed_sub, open_sub))

    assert not tree.entities[STEP].in_progress
    assert tree.completeness is Completeness.COMPLETE


def test_an_in_progress_subsegment_completed_inside_its_segment_is_not_in_progress(
    make_document, views
):
    """A streamed in-progress version, completed by the copy embedded in the segment, is done."""
    open_sub = make_document(id=STEP, type="subsegment", parent_id=ROOT, in_progress=True)
    root = make_document(id=ROOT, subsegments=[make_document(id=STEP, parent_id=ROOT)])

    tree = TraceTree(views(open_sub, root))

    assert not tree.entities[STEP].in_progress
    assert tree.completeness is Completeness.COMPLETE


def test_the_entry_segment_is_the_one_without_a_parent(make_document, views):
    """A downstream service's segment names its caller's subsegment as parent."""
    root = make_document(id=ROOT, subsegments=[make_document(id=CALL, namespace="remote")])
    downstream = make_document(id=DOWNSTREAM, name="payments", parent_id=CALL, start_time=1.0)

    tree = TraceTree(views(downstream, root))

    assert tree.root.id == ROOT
    assert tree.callees[CALL].id == DOWNSTREAM
    assert tree.segment_of(CALL).id == ROOT


def test_the_earliest_parentless_segment_is_the_entry(make_document, views):
    """Two parentless segments: the one that started first is the root."""
    late = make_document(id=ROOT, start_time=1795579417.5, end_time=1795579418.0)
    early = make_document(id=DOWNSTREAM, start_time=1795579417.0)

    tree = TraceTree(views(late, early))

    assert tree.root.id == DOWNSTREAM


def test_a_segment_whose_caller_is_missing_stands_in_as_root(make_document, views):
    """Without a parentless segment, the earliest segment with a missing parent is the root."""
    downstream = make_document(id=DOWNSTREAM, parent_id=MISSING)

    tree = TraceTree(views(downstream))

    assert tree.root.id == DOWNSTREAM
    assert tree.completeness is Completeness.INCOMPLETE


def test_a_downstream_segment_whose_caller_is_missing_leaves_the_trace_incomplete(
    make_document, views
):
    """COMPLETE means every parent is present, a downstream segment's calling subsegment too."""
    root = make_document(id=ROOT)
    downstream = make_document(id=DOWNSTREAM, parent_id=MISSING, start_time=1795579417.25)

    tree = TraceTree(views(root, downstream))

    assert tree.root.id == ROOT
    assert tree.completeness is Completeness.INCOMPLETE


def test_a_parent_cycle_in_hostile_input_terminates(make_document, views):
    """Two subsegments naming each other as parent are attached to no segment."""
    first = make_document(id=STEP, type="subsegment", parent_id=INNER)
    second = make_document(id=INNER, type="subsegment", parent_id=STEP)

    tree = TraceTree(views(make_document(id=ROOT), first, second))

    assert tree.segment_of(STEP) is None
    assert tree.segment_of(INNER) is None


def test_a_subsegment_that_is_its_own_parent_terminates(make_document):
    """A self-loop is a cycle too. Validation refuses one now; a store written before that may
    still hold one, so the tree must not loop on it."""
    loop = make_document(id=STEP, type="subsegment", parent_id=STEP)

    tree = TraceTree([view_of(orjson.dumps(loop))])

    assert tree.segment_of(STEP) is None
    assert tree.completeness is Completeness.INCOMPLETE


def test_subsegments_of_a_streamed_subtree_belong_to_the_segment(make_document, views):
    """Subsegments embedded in a streamed subsegment get the same owner."""
    sub = make_document(
        id=STEP, type="subsegment", parent_id=ROOT, subsegments=[make_document(id=INNER)]
    )

    tree = TraceTree(views(sub, make_document(id=ROOT)))

    assert tree.segment_of(INNER).id == ROOT
    assert tree.parent[INNER] == STEP


@pytest.mark.parametrize(
    ("old_in_progress", "new_in_progress", "replaces"),
    [(True, False, True), (False, False, True), (True, True, True), (False, True, False)],
)
def test_supersedes_lets_the_last_version_win_unless_it_reopens(
    make_document, parse, old_in_progress, new_in_progress, replaces
):
    """Only an in-progress version arriving after a completed one is ignored."""
    old = parse(make_document(id=ROOT, in_progress=old_in_progress)).view()
    new = parse(make_document(id=ROOT, in_progress=new_in_progress)).view()

    result = supersedes(old, new)

    assert result is replaces
