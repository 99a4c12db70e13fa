"""Filter expressions through SQL agree with the in-memory evaluator."""

import random
import time
from pathlib import Path

import orjson
import pytest

from fluoroscope.assembly.assembler import Assembler
from fluoroscope.assembly.in_flight import AssemblyLimits
from fluoroscope.filters import matches, parse, predicate
from fluoroscope.store import summary_codec
from fluoroscope.store.filter_sql import compile_filter
from fluoroscope.store.store import Store
from fluoroscope.store.types import SummaryQuery, TimeRange
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document

SERVICES = ["gateway", "orders", "payments", "search"]
PAGES = ["home", "cart"]
EXPRESSIONS = [
    "fault",
    "!fault",
    "ok",
    "!ok",
    "ok = false",
    "throttle",
    "!throttle",
    "throttle = false",
    "error OR throttle",
    "responsetime > 0.1",
    "duration <= 0.05",
    "http.status = 500",
    "http.status != 200",
    'http.url CONTAINS "/cart"',
    'http.url BEGINSWITH "https://gateway"',
    'http.url ENDSWITH "/7"',
    'http.method = "POST"',
    "partial",
    "inferred",
    'annotation.customer = "acme"',
    'annotation.customer != "acme"',
    "annotation.items >= 3",
    "annotation.vip = true",
    "annotation.vip",
    "!annotation.vip",
    'annotation.customer BEGINSWITH "gl"',
    'service("payments")',
    'service("payments") { fault }',
    'service("orders") { throttle }',
    'service("orders") { responsetime > 0.05 }',
    'service("gateway") { root }',
    "service() { error }",
    'service(id(type: "AWS::DynamoDB::Table"))',
    # The X-Ray SDK's name for the service (its endpoint prefix) finds the same nodes.
    'service(id(type: "AWS::dynamodb::Table"))',
    '!service("search")',
    'edge("gateway", "payments") { fault }',
    'edge("gateway", "orders")',
    'user = "alice"',
    'user CONTAINS ""',
    'service("payments") { fault } AND annotation.customer = "acme" AND responsetime > 0.1',
    '(fault OR annotation.vip) AND !service("orders") { throttle }',
    'rootcause.fault.service { name = "payments" }',
    "rootcause.fault.entity { last and remote }",
    "rootcause.responsetime.entity { remote and coverage > 0.5 }",
    "ok !partial duration < 0.2",
    # Most traces have no user agent or client IP: their columns are NULL.
    '!(http.useragent = "curl/8.0")',
    'http.useragent ENDSWITH ""',
    '!(http.clientip BEGINSWITH "203.")',
]


def _trace(rng: random.Random, n: int, now: float) -> list[bytes]:
    tid = f"1-{int(now):08x}-{n:024x}"
    root_id = f"{n:012x}0001"
    call_id = f"{n:012x}0002"
    entry = SERVICES[0] if n % 5 else SERVICES[3]
    downstream = SERVICES[1 + n % 2]
    status = rng.choice([200, 200, 200, 304, 404, 429, 500])
    start = now - rng.random() * 100
    duration = 0.02 + rng.random() * 0.3
    root = {
        "id": root_id, "name": entry, "trace_id": tid, "start_time": start,
        "end_time": start + duration, "http": {
            "request": {"url": f"https://{entry}.example.com/{PAGES[n % 2]}/{n % 10}",
                        "method": rng.choice(["GET", "POST"]),
                        **({"user_agent": "curl/8.0"} if n % 7 == 0 else {}),
                        **({"client_ip": ["203.0.113.9", "198.51.100.2"][n % 2]}
                           if n % 5 < 2 else {})},
            "response": {"status": status}},
        "annotations": {"customer": rng.choice(["acme", "globex", "gl"]), "items": n % 6,
                        **({"vip": True} if n % 4 == 0 else {"vip": False} if n % 8 == 2 else {})},
        "subsegments": [
            {"id": call_id, "name": downstream, "start_time": start + 0.001,
             "end_time": start + duration * (0.9 if n % 2 else 0.3), "namespace": "remote",
             **({"fault": True} if status == 500 else {})},
        ] + ([{"id": f"{n:012x}0003", "name": "DynamoDB", "start_time": start + 0.002,
               "end_time": start + 0.003, "namespace": "aws", "aws": {"table_name": "orders"}}]
             if n % 3 else []),
        **({"user": "alice"} if n % 3 == 0 else {}),
        **({"fault": True} if status == 500 else {}),
    }  # fmt: skip
    if n % 17 == 0:  # not an HTTP service: no status to judge by
        del root["http"]["response"]
    if n % 19 == 0:  # still answering
        del root["end_time"]
        root["in_progress"] = True
    documents = [root]
    if n % 2 == 0:
        child_status = rng.choice([200, 429, 500])
        documents.append(
            {"id": f"{n:012x}0004", "name": downstream, "trace_id": tid, "parent_id": call_id,
             "start_time": start + 0.002, "end_time": start + duration * 0.25,
             "http": {"response": {"status": child_status}},
             **({"throttle": True, "error": True} if child_status == 429 else {}),
             **({"fault": True} if child_status == 500 else {})}
        )  # fmt: skip
    if n % 11 == 0:
        documents.append(
            {"id": f"{n:012x}0005", "name": "async", "trace_id": tid, "parent_id": root_id,
             "type": "subsegment", "start_time": start, "in_progress": True}
        )  # fmt: skip
    return [orjson.dumps(d) for d in documents]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store of 400 varied traces written through the assembler."""
    now = time.time()
    store = Store(Path(tmp_path_factory.mktemp("filters")))
    store.open()
    assembler = Assembler(store, Registry(), AssemblyLimits())
    rng = random.Random(7)
    for n in range(1, 401):
        for raw in _trace(rng, n, now):
            for document in parse_document(raw):
                assembler.add(document)
    assembler.flush()
    store.close()
    store.open()
    return store


def _all_summaries(store: Store) -> dict[str, object]:
    query = SummaryQuery(TimeRange.SERVICE, 0, 2e9, 100_000)
    page = store.reader.summaries(query)
    return {row.summary[1]: summary_codec.decode(row.summary) for row in page.rows}  # type: ignore[misc]


@pytest.mark.parametrize("plan", ["list", "probe", "estimated"])
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_sql_and_memory_find_the_same_traces(store: Store, expression: str, plan: str) -> None:
    """The store's answer equals evaluating the expression on every trace, whatever the plan."""
    tree = parse(expression)
    expected = {tid for tid, s in _all_summaries(store).items() if matches(tree, s)}  # type: ignore[arg-type]
    estimate = {
        "list": None,
        "probe": lambda where, params, cap: cap,
        "estimated": store.reader.annotation_rows,
    }[plan]
    condition = compile_filter(tree, None, estimate)
    keep = None
    if condition is None or not condition.exact:

        def keep(stored: list[object]) -> bool:
            return matches(tree, summary_codec.decode(stored))

    query = SummaryQuery(TimeRange.SERVICE, 0, 2e9, 100_000)

    page = store.reader.summaries(
        query, condition.sql if condition else "", condition.params if condition else [], keep
    )

    assert {row.summary[1] for row in page.rows} == expected


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_a_predicate_answers_as_the_evaluator_does(store: Store, expression: str) -> None:
    """The function made once from an expression agrees with evaluating it, trace by trace."""
    tree = parse(expression)
    summaries = _all_summaries(store).values()

    compiled = predicate(tree)

    assert [compiled(s) for s in summaries] == [matches(tree, s) for s in summaries]  # type: ignore[arg-type]


def test_the_corpus_exercises_both_answers(store: Store) -> None:
    """Each expression matches some traces and not others, so agreement means something."""
    summaries = _all_summaries(store)
    trivial = [
        e for e in EXPRESSIONS
        if len({matches(parse(e), s) for s in summaries.values()}) < 2  # type: ignore[arg-type]
    ]  # fmt: skip

    assert trivial == [], trivial


def test_common_forms_compile_to_exact_sql() -> None:
    """Annotations, statuses, trace columns and simple service blocks need no second check."""
    for expression in (
        'annotation.customer = "acme"',
        'service("payments") { fault }',
        "responsetime > 0.5",
        "!fault AND http.status = 200",
    ):
        condition = compile_filter(parse(expression))
        assert condition is not None
        assert condition.exact, expression


def test_values_never_reach_the_sql_text() -> None:
    """Strings from the expression travel as parameters only."""
    condition = compile_filter(parse('annotation.k = "x\'); DROP TABLE traces; --"'))

    assert condition is not None
    assert "DROP" not in condition.sql
    assert "x'); DROP TABLE traces; --" in condition.params


def test_keywords_no_column_holds_still_narrow_when_negated() -> None:
    """throttle and ok compile to supersets, for themselves and for their negation."""
    for expression in ("throttle", "!throttle", "throttle = false", "ok", "!ok", "!(ok = true)"):
        condition = compile_filter(parse(expression))
        assert condition is not None, expression
        assert not condition.exact, expression
