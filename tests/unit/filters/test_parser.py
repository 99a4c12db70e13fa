"""The filter expression parser and printer."""

import contextlib
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluoroscope.errors import FilterSyntaxError
from fluoroscope.filters import format_filter, parse
from fluoroscope.filters.ast import (
    KEYWORDS,
    And,
    Annotation,
    Compare,
    Edge,
    Field,
    Group,
    NodeRef,
    Not,
    Or,
    Present,
    RootCause,
    RootCauseJson,
    Service,
)

# Every example form of xray-protocol.md 8.4.
EXAMPLES = [
    "responsetime > 2.5",
    "duration >= 1 AND duration <= 4",
    "http.status != 204",
    "ok !partial duration < 2",
    'http.url CONTAINS "/cart/"',
    'http.url BEGINSWITH "https://shop.example/" AND http.url ENDSWITH "/pay"',
    'user CONTAINS ""',
    'annotation.order_id = "A7K2Q9"',
    "annotation.retries >= 3",
    "annotation.vip = true",
    "annotation.order_id",
    "!annotation.order_id",
    'service("payments.internal") { fault }',
    "service() { throttle }",
    'service("gateway") { root = true AND error = true }',
    'edge("gateway", "payments.internal") { fault OR responsetime > 1 }',
    'http.url CONTAINS "/v3/" AND !service("legacy-billing")',
    "http.useragent AND responsetime > 1",
    'service(id(name: "resize-image", type: "AWS::Lambda::Function")) { fault }',
    'service(id(type: "AWS::DynamoDB::Table")) { throttle }',
    'service(id(account.id: "111122223333"))',
    'edge(id(name: "gateway", type: "AWS::EC2::Instance"), '
    'id(name: "orders", type: "AWS::DynamoDB::Table")) { error }',
    'group.name = "slow-checkout" AND user = "bob"',
    'group.arn = "arn:aws:xray:us-east-1:111122223333:group/slow-checkout/EXAMPLEID"',
    'rootcause.fault.service { name = "payments.internal" }',
    'rootcause.fault.entity { last and name = "charge_card" }',
    'rootcause.error.exception { first and message = "card declined" }',
    "rootcause.responsetime.entity { remote and coverage > 0.5 }",
    'rootcause.responsetime.service { last and type = "AWS::DynamoDB::Table" }',
    "rootcause.fault.service { index >= 2 }",
    'rootcause.json = #[{ "Services": [ { "Name": "gateway", "EntityPath": '
    '[ { "Name": "gateway" }, { "Name": "charge_card" } ] } ] }]',
]


@pytest.mark.parametrize("text", EXAMPLES)
def test_every_documented_form_parses_and_prints_back(text: str) -> None:
    """Each example parses, and its canonical text parses to the same tree."""
    tree = parse(text)

    assert parse(format_filter(tree)) == tree


def test_juxtaposition_is_and_and_bang_negates() -> None:
    """``ok !partial duration < 2`` is ok AND NOT partial AND duration < 2."""
    assert parse("ok !partial duration < 2") == And(
        And(Present(Field("ok")), Not(Present(Field("partial")))),
        Compare(Field("duration"), "<", 2.0),
    )


def test_and_binds_tighter_than_or() -> None:
    """``a OR b AND c`` groups as a OR (b AND c)."""
    assert parse("fault OR error AND throttle") == Or(
        Present(Field("fault")), And(Present(Field("error")), Present(Field("throttle")))
    )


def test_parentheses_override_precedence() -> None:
    """``(a OR b) AND c`` keeps the OR together."""
    assert parse("(fault OR error) AND throttle") == And(
        Or(Present(Field("fault")), Present(Field("error"))), Present(Field("throttle"))
    )


def test_keywords_and_operators_ignore_case() -> None:
    """ResponseTime, and, CONTAINS and NOT are read whatever their case."""
    assert parse('ResponseTime > 1 and NOT http.url contains "x"') == And(
        Compare(Field("responsetime"), ">", 1.0),
        Not(Compare(Field("http.url"), "contains", "x")),
    )


def test_spaces_around_operators_are_optional() -> None:
    """``duration<3`` is ``duration < 3``."""
    assert parse("duration<3") == Compare(Field("duration"), "<", 3.0)


def test_string_escapes_are_quote_and_backslash() -> None:
    r"""``\"`` and ``\\`` inside strings stand for themselves."""
    assert parse(r'user = "a\"b\\c"') == Compare(Field("user"), "=", 'a"b\\c')


def test_a_bare_word_value_is_a_string() -> None:
    """``user = alice`` compares with the string alice."""
    assert parse("user = alice") == Compare(Field("user"), "=", "alice")


def test_id_arguments_come_in_any_order() -> None:
    """id(type:, name:) names the same node as id(name:, type:)."""
    assert parse('service(id(type: "t", name: "n"))') == Service(NodeRef("n", "t"), None)


def test_a_group_reference_parses() -> None:
    """group.name != "x" is a Group node."""
    assert parse('group.name != "x"') == Group("name", "!=", "x")


def test_root_cause_blocks_parse() -> None:
    """rootcause.fault.entity { last } is a RootCause node."""
    assert parse("rootcause.fault.entity { last }") == RootCause(
        "fault", "entity", Present(Field("last"))
    )


def test_root_cause_json_keeps_its_values() -> None:
    """The JSON list's values are parsed."""
    tree = parse('rootcause.json = #[{"Services": [{"Name": "a"}]}, {"ClientImpacting": true}]')

    assert isinstance(tree, RootCauseJson)
    assert tree.values == ({"Services": [{"Name": "a"}]}, {"ClientImpacting": True})


def test_edges_take_two_nodes() -> None:
    """edge("a", "b") without a block."""
    assert parse('edge("a", "b")') == Edge(NodeRef("a"), NodeRef("b"), None)


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("", 0, "a filter expression"),
        ("duration >", 10, 'a value after ">"'),
        ("service(", 8, "a quoted service name or id(...)"),
        ("(ok", 3, '")"'),
        ("ok )", 3, '"AND", "OR" or the end of the expression'),
        ("fault = 3", 8, "true or false"),
        ("http.url > 3", 11, "a quoted string"),
        ("duration CONTAINS 3", 18, "a number"),
        ("duration", 8, "an operator after duration"),
        ("unknown", 0, "a keyword"),
        ('service("a") { annotation.x }', 15, "a keyword that applies inside this block"),
        ("root", 0, "a keyword that applies here"),
        ('service("a") { service("b") }', 15, "a keyword that applies inside this block"),
        ("rootcause.responsetime.exception { first }", 0, "rootcause.fault|error"),
        ("rootcause.fault.service", 23, '"{"'),
        ('user = "open', 7, 'a closing "'),
        ("annotation.k > true", 15, "a string or number"),
        ("annotation.k CONTAINS 3", 22, "a quoted string"),
        ('service(id(color: "x"))', 11, '"name", "type" or "account.id"'),
        ("ok $", 3, "a keyword, value or operator"),
        ("rootcause.json = #[{", 19, "a JSON value"),
        ('group.name > "x"', 11, '"=" or "!="'),
    ],
)
def test_errors_name_the_position_and_what_was_expected(
    text: str, position: int, expected: str
) -> None:
    """Each malformed expression is refused with where and what."""
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)

    assert caught.value.position == position
    assert caught.value.expected.startswith(expected)


def test_overlong_expressions_are_refused() -> None:
    """Expressions beyond the length limit cost nothing to refuse."""
    with pytest.raises(FilterSyntaxError, match="longer than"):
        parse("ok " * 5000)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    """Thousands of parentheses or bangs end in a FilterSyntaxError."""
    for text in ("(" * 3000 + "ok" + ")" * 3000, "!" * 3000 + "ok"):
        with pytest.raises(FilterSyntaxError, match="nests more than"):
            parse(text)


_TOKENS = st.sampled_from(
    ["ok", "fault", "AND", "OR", "!", "(", ")", "{", "}", "service", "edge", "id", ",", ":",
     '"x"', "1", "-2.5", "=", "!=", "<", ">=", "CONTAINS", "annotation.k", "rootcause.json",
     "#[", "]", "group.name", "rootcause.fault.entity", "true", "name", "duration", "user"]
)  # fmt: skip


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_random_text_never_raises_anything_but_a_syntax_error(text: str) -> None:
    """Arbitrary input either parses or is refused as a FilterSyntaxError."""
    with contextlib.suppress(FilterSyntaxError):
        parse(text)


@given(st.lists(_TOKENS, max_size=25))
@settings(max_examples=300, deadline=None)
def test_token_soup_never_raises_anything_but_a_syntax_error(tokens: list[str]) -> None:
    """Sequences of real tokens either parse or are refused as a FilterSyntaxError."""
    with contextlib.suppress(FilterSyntaxError):
        parse(" ".join(tokens))


_NAMES = st.text(string.ascii_letters + string.digits + ' "\\-_.:/', min_size=1, max_size=8)
_NUMBERS = st.floats(allow_nan=False, allow_infinity=False, width=32)


def _subjects(scope: str, kinds: tuple[str, ...]) -> st.SearchStrategy[Field]:
    names = [k for k, (kind, scopes) in KEYWORDS.items() if scope in scopes and kind in kinds]
    return st.sampled_from(names).map(Field)


def _simple(scope: str) -> st.SearchStrategy[object]:
    options = [
        _subjects(scope, ("bool", "string")).map(Present),
        st.builds(Compare, _subjects(scope, ("bool",)), st.sampled_from(["=", "!="]),
                  st.booleans()),
        st.builds(Compare, _subjects(scope, ("number",)),
                  st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), _NUMBERS),
        st.builds(Compare, _subjects(scope, ("string",)),
                  st.sampled_from(["=", "!=", "contains", "beginswith", "endswith"]), _NAMES),
    ]  # fmt: skip
    if scope == "trace":
        keys = st.text(string.ascii_letters + "_", min_size=1, max_size=6).map(Annotation)
        options += [
            keys.map(Present),
            st.builds(Compare, keys, st.sampled_from(["=", "<"]), _NUMBERS),
            st.builds(Compare, keys, st.sampled_from(["=", "contains"]), _NAMES),
            st.builds(Group, st.sampled_from(["name", "arn"]), st.sampled_from(["=", "!="]),
                      _NAMES),
        ]  # fmt: skip
    return st.one_of(options)


def _trees(scope: str) -> st.SearchStrategy[object]:
    return st.recursive(
        _simple(scope),
        lambda inner: st.one_of(
            st.builds(And, inner, inner), st.builds(Or, inner, inner), st.builds(Not, inner)
        ),
        max_leaves=8,
    )


_REFS = st.builds(NodeRef, st.none() | _NAMES, st.none() | _NAMES, st.none() | _NAMES).filter(
    lambda r: r.name is not None or r.type is not None or r.account_id is not None
)
_TOP = st.one_of(
    _trees("trace"),
    st.builds(Service, st.none() | _REFS, st.none() | _trees("service")),
    st.builds(Edge, _REFS, _REFS, st.none() | _trees("edge")),
    st.builds(RootCause, st.just("fault"), st.just("entity"), _trees("rc.entity")),
)


@given(st.recursive(_TOP, lambda inner: st.builds(And, inner, inner), max_leaves=4))
@settings(max_examples=300, deadline=None)
def test_printed_trees_parse_back_to_themselves(tree: object) -> None:
    """format_filter is the inverse of parse on every well-formed tree."""
    assert parse(format_filter(tree)) == tree  # type: ignore[arg-type]
