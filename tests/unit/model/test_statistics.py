"""A trace's contribution to the service graph's statistics, and a batch's total of them."""

from fluoroscope.model.facts import facts_of
from fluoroscope.model.statistics import STAT_WIDTH, add_into, contribution
from fluoroscope.model.trace import TraceTree

OTHER_TRACE_ID = "1-6b065e19-00000000000000000000beef"


def _facts(parse, *documents):
    return facts_of(TraceTree([parse(document).view() for document in documents]))


def test_into_receives_exactly_the_sum_of_the_contributions(parse, make_document):
    """Adding as contributions are made gives what adding them up afterwards gives."""
    call = make_document(name="payments", namespace="remote", http={"response": {"status": 503}})
    first = _facts(parse, make_document(subsegments=[call]))
    second = _facts(
        parse,
        make_document(trace_id=OTHER_TRACE_ID, http={"response": {"status": 404}}),
    )
    summed: dict = {}
    into: dict = {}
    only_into: dict = {}

    for facts, weight in ((first, 1.0), (second, 4.0)):
        own = contribution(facts, ("", "team"), weight, into=into)
        add_into(summed, own)
        assert own == contribution(facts, ("", "team"), weight)
        assert contribution(facts, ("", "team"), weight, into=only_into, own=False) == {}

    assert into == summed
    assert only_into == summed
    assert all(len(values) == STAT_WIDTH for values in into.values())
    # Both traces' root visits fall on the same node and minute: their counts add up.
    node = next(key for key in into if key[0] == "" and key[1] == "n")
    assert into[node][4] == 5.0
