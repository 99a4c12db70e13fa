"""Every example expression of xray-protocol.md 8.4 parses to the tree it means."""

import pytest

from fluoroscope.filters import format_filter, parse
from fluoroscope.filters.ast import (
    And,
    Annotation,
    Compare,
    Edge,
    Field,
    Group,
    Node,
    NodeRef,
    Not,
    Or,
    Present,
    RootCause,
    RootCauseJson,
    Service,
)


def _kw(name: str) -> Present:
    return Present(Field(name))


def _cmp(name: str, op: str, value: str | float | bool) -> Compare:
    return Compare(Field(name), op, value)


EXAMPLES: list[tuple[str, Node]] = [
    ("responsetime > 2.5", _cmp("responsetime", ">", 2.5)),
    (
        "duration >= 1 AND duration <= 4",
        And(_cmp("duration", ">=", 1.0), _cmp("duration", "<=", 4.0)),
    ),
    ("http.status != 204", _cmp("http.status", "!=", 204.0)),
    (
        "ok !partial duration < 2",
        And(And(_kw("ok"), Not(_kw("partial"))), _cmp("duration", "<", 2.0)),
    ),
    ('http.url CONTAINS "/cart/"', _cmp("http.url", "contains", "/cart/")),
    (
        'http.url BEGINSWITH "https://shop.example/" AND http.url ENDSWITH "/pay"',
        And(
            _cmp("http.url", "beginswith", "https://shop.example/"),
            _cmp("http.url", "endswith", "/pay"),
        ),
    ),
    ('user CONTAINS ""', _cmp("user", "contains", "")),
    ('annotation.order_id = "A7K2Q9"', Compare(Annotation("order_id"), "=", "A7K2Q9")),
    ("annotation.retries >= 3", Compare(Annotation("retries"), ">=", 3.0)),
    ("annotation.vip = true", Compare(Annotation("vip"), "=", True)),
    ("annotation.order_id", Present(Annotation("order_id"))),
    ("!annotation.order_id", Not(Present(Annotation("order_id")))),
    (
        'service("payments.internal") { fault }',
        Service(NodeRef("payments.internal"), _kw("fault")),
    ),
    ("service() { throttle }", Service(None, _kw("throttle"))),
    (
        'service("gateway") { root = true AND error = true }',
        Service(NodeRef("gateway"), And(_cmp("root", "=", True), _cmp("error", "=", True))),
    ),
    (
        'edge("gateway", "payments.internal") { fault OR responsetime > 1 }',
        Edge(
            NodeRef("gateway"),
            NodeRef("payments.internal"),
            Or(_kw("fault"), _cmp("responsetime", ">", 1.0)),
        ),
    ),
    (
        'http.url CONTAINS "/v3/" AND !service("legacy-billing")',
        And(_cmp("http.url", "contains", "/v3/"), Not(Service(NodeRef("legacy-billing"), None))),
    ),
    (
        "http.useragent AND responsetime > 1",
        And(_kw("http.useragent"), _cmp("responsetime", ">", 1.0)),
    ),
    (
        'service(id(name: "resize-image", type: "AWS::Lambda::Function")) { fault }',
        Service(NodeRef("resize-image", "AWS::Lambda::Function"), _kw("fault")),
    ),
    (
        'service(id(type: "AWS::DynamoDB::Table")) { throttle }',
        Service(NodeRef(type="AWS::DynamoDB::Table"), _kw("throttle")),
    ),
    (
        'service(id(account.id: "111122223333"))',
        Service(NodeRef(account_id="111122223333"), None),
    ),
    (
        'edge(id(name: "gateway", type: "AWS::EC2::Instance"), '
        'id(name: "orders", type: "AWS::DynamoDB::Table")) { error }',
        Edge(
            NodeRef("gateway", "AWS::EC2::Instance"),
            NodeRef("orders", "AWS::DynamoDB::Table"),
            _kw("error"),
        ),
    ),
    (
        'group.name = "slow-checkout" AND user = "bob"',
        And(Group("name", "=", "slow-checkout"), _cmp("user", "=", "bob")),
    ),
    (
        'group.arn = "arn:aws:xray:us-east-1:111122223333:group/slow-checkout/EXAMPLEID"',
        Group("arn", "=", "arn:aws:xray:us-east-1:111122223333:group/slow-checkout/EXAMPLEID"),
    ),
    (
        'rootcause.fault.service { name = "payments.internal" }',
        RootCause("fault", "service", _cmp("name", "=", "payments.internal")),
    ),
    (
        'rootcause.fault.entity { last and name = "charge_card" }',
        RootCause("fault", "entity", And(_kw("last"), _cmp("name", "=", "charge_card"))),
    ),
    (
        'rootcause.error.exception { first and message = "card declined" }',
        RootCause("error", "exception", And(_kw("first"), _cmp("message", "=", "card declined"))),
    ),
    (
        "rootcause.responsetime.entity { remote and coverage > 0.5 }",
        RootCause("responsetime", "entity", And(_kw("remote"), _cmp("coverage", ">", 0.5))),
    ),
    (
        'rootcause.responsetime.service { last and type = "AWS::DynamoDB::Table" }',
        RootCause(
            "responsetime", "service", And(_kw("last"), _cmp("type", "=", "AWS::DynamoDB::Table"))
        ),
    ),
    (
        "rootcause.fault.service { index >= 2 }",
        RootCause("fault", "service", _cmp("index", ">=", 2.0)),
    ),
    (
        'rootcause.json = #[{ "Services": [ { "Name": "gateway", "EntityPath": '
        '[ { "Name": "gateway" }, { "Name": "charge_card" } ] } ] }]',
        RootCauseJson(
            (
                {
                    "Services": [
                        {
                            "Name": "gateway",
                            "EntityPath": [{"Name": "gateway"}, {"Name": "charge_card"}],
                        }
                    ]
                },
            )
        ),
    ),
]


@pytest.mark.parametrize(("text", "tree"), EXAMPLES, ids=[text for text, _ in EXAMPLES])
def test_each_documented_example_parses_to_its_tree(text: str, tree: Node) -> None:
    """The example's tree is exactly the one its syntax describes."""
    parsed = parse(text)

    assert parsed == tree


@pytest.mark.parametrize(("text", "tree"), EXAMPLES, ids=[text for text, _ in EXAMPLES])
def test_each_documented_example_prints_back_to_the_same_tree(text: str, tree: Node) -> None:
    """The canonical text of each example parses to the same tree again."""
    printed = format_filter(tree)

    assert parse(printed) == tree


def test_the_examples_cover_every_operator_and_form() -> None:
    """Between them the examples use every operator and every kind of node."""
    kinds: set[str] = set()
    ops: set[str] = set()
    pending: list[object] = [tree for _, tree in EXAMPLES]
    while pending:
        node = pending.pop()
        kinds.add(type(node).__name__)
        if isinstance(node, Compare):
            ops.add(node.op)
        for child in ("left", "right", "operand", "block"):
            if getattr(node, child, None) is not None:
                pending.append(getattr(node, child))

    assert kinds == {
        "And", "Or", "Not", "Compare", "Present", "Service", "Edge", "Group", "RootCause",
        "RootCauseJson",
    }  # fmt: skip
    assert ops == {"=", "!=", "<", "<=", ">", ">=", "contains", "beginswith", "endswith"}
