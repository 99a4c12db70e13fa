"""What the filter expression parser accepts, and the trees it builds."""

import pytest

from fluoroscope.errors import FilterSyntaxError
from fluoroscope.filters import parse
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
from fluoroscope.filters.parser import MAX_CONDITIONS, MAX_DEPTH, MAX_LENGTH

OK, FAULT, ERROR, THROTTLE = (Present(Field(name)) for name in ("ok", "fault", "error", "throttle"))

# A block in which each keyword may appear, and how to wrap a condition into it.
_WRAP = {
    "trace": "{}",
    "service": "service() {{ {} }}",
    "edge": 'edge("a", "b") {{ {} }}',
    **{
        f"rootcause.{kind}.{level}": f"rootcause.{kind}.{level} {{{{ {{}} }}}}"
        for kind, level in [
            ("fault", "service"),
            ("fault", "entity"),
            ("fault", "exception"),
            ("error", "service"),
            ("error", "entity"),
            ("error", "exception"),
            ("responsetime", "service"),
            ("responsetime", "entity"),
        ]
    },
}
_SAMPLE = {"bool": "= true", "number": ">= 2", "string": 'CONTAINS "x"'}


def _innermost(text: str) -> object:
    """The condition inside whatever block ``text`` wraps it in."""
    node: object = parse(text)
    while isinstance(node, Service | Edge | RootCause):
        node = node.block
    return node


@pytest.mark.parametrize(
    ("name", "scope"), [(name, min(entry.scopes)) for name, entry in KEYWORDS.items()]
)
def test_every_keyword_compares_in_a_scope_that_allows_it(name: str, scope: str) -> None:
    """Each keyword parses as a comparison of its own kind."""
    kind = KEYWORDS[name].kind
    text = _WRAP[scope].format(f"{name} {_SAMPLE[kind]}")

    condition = _innermost(text)

    expected = {"bool": True, "number": 2.0, "string": "x"}[kind]
    op = {"bool": "=", "number": ">=", "string": "contains"}[kind]
    assert condition == Compare(Field(name), op, expected)


@pytest.mark.parametrize(
    "name", [name for name, entry in KEYWORDS.items() if entry.kind != "number"]
)
def test_every_boolean_and_string_keyword_stands_alone(name: str) -> None:
    """A bare boolean or string keyword is a Present condition."""
    text = _WRAP[min(KEYWORDS[name].scopes)].format(name)

    assert _innermost(text) == Present(Field(name))


@pytest.mark.parametrize(
    ("name", "scope"),
    [(name, scope) for name in KEYWORDS for scope in _WRAP if scope not in KEYWORDS[name].scopes],
)
def test_every_keyword_is_refused_in_every_scope_that_does_not_allow_it(
    name: str, scope: str
) -> None:
    """Outside its scopes a keyword is a syntax error at the keyword."""
    text = _WRAP[scope].format(f"{name} {_SAMPLE[KEYWORDS[name].kind]}")

    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)

    assert caught.value.position == text.index(name, text.find("{") + 1)
    assert caught.value.expected.startswith("a keyword allowed ")


@pytest.mark.parametrize(
    ("op", "value"), [("=", 1.0), ("!=", 1.0), ("<", 1.0), ("<=", 1.0), (">", 1.0), (">=", 1.0)]
)
def test_numeric_keywords_take_every_ordering_operator(op: str, value: float) -> None:
    """duration takes = != < <= > >= with a number."""
    assert parse(f"duration {op} 1") == Compare(Field("duration"), op, value)


@pytest.mark.parametrize("op", ["=", "!=", "contains", "beginswith", "endswith"])
def test_string_keywords_take_equality_and_the_string_operators(op: str) -> None:
    """http.url takes = != CONTAINS BEGINSWITH ENDSWITH with a string."""
    assert parse(f'http.url {op.upper()} "x"') == Compare(Field("http.url"), op, "x")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('annotation.k = "x"', "x"),
        ("annotation.k = 3", 3.0),
        ("annotation.k = false", False),
        ("annotation.k != true", True),
    ],
)
def test_annotations_compare_with_strings_numbers_and_booleans(
    text: str, value: str | float | bool
) -> None:
    """An annotation's = and != take any kind of literal."""
    assert parse(text).value == value  # type: ignore[union-attr]


def test_annotations_take_ordering_and_string_operators() -> None:
    """annotation.k < 3 and annotation.k ENDSWITH "x" both parse."""
    assert parse('annotation.k < 3 AND annotation.k ENDSWITH "x"') == And(
        Compare(Annotation("k"), "<", 3.0), Compare(Annotation("k"), "endswith", "x")
    )


def test_annotation_keys_keep_their_case() -> None:
    """The key after annotation. is kept as written, the prefix is not case-sensitive."""
    assert parse("ANNOTATION.OrderId") == Present(Annotation("OrderId"))


def test_juxtaposition_is_and() -> None:
    """Two conditions side by side are joined by AND."""
    assert parse("ok fault") == And(OK, FAULT)


def test_and_binds_tighter_than_or() -> None:
    """``a OR b AND c`` groups as a OR (b AND c)."""
    assert parse("fault OR error AND throttle") == Or(FAULT, And(ERROR, THROTTLE))


def test_juxtaposition_binds_like_and() -> None:
    """``a OR b c`` groups as a OR (b AND c)."""
    assert parse("fault OR error throttle") == Or(FAULT, And(ERROR, THROTTLE))


def test_bang_binds_tighter_than_and() -> None:
    """``!a AND b`` negates only a."""
    assert parse("!fault AND error") == And(Not(FAULT), ERROR)


def test_and_and_or_group_to_the_left() -> None:
    """``a OR b OR c`` is (a OR b) OR c."""
    assert parse("ok OR fault OR error") == Or(Or(OK, FAULT), ERROR)


def test_parentheses_override_precedence() -> None:
    """``(a OR b) AND c`` keeps the OR together."""
    assert parse("(fault OR error) AND throttle") == And(Or(FAULT, ERROR), THROTTLE)


def test_negation_applies_to_a_parenthesised_group() -> None:
    """``!(a OR b)`` negates the whole group."""
    assert parse("!(fault OR error)") == Not(Or(FAULT, ERROR))


def test_not_is_a_synonym_of_bang() -> None:
    """``NOT fault`` is ``!fault``."""
    assert parse("NOT fault") == parse("!fault")


def test_negations_stack() -> None:
    """``!!fault`` is a double negation."""
    assert parse("!!fault") == Not(Not(FAULT))


def test_keywords_and_operators_ignore_case() -> None:
    """ResponseTime, and, CONTAINS, NOT and TRUE are read whatever their case."""
    assert parse('ResponseTime > 1 and NOT http.URL contains "x" Or Fault = TRUE') == Or(
        And(
            Compare(Field("responsetime"), ">", 1.0),
            Not(Compare(Field("http.url"), "contains", "x")),
        ),
        Compare(Field("fault"), "=", True),
    )


def test_complex_keywords_ignore_case() -> None:
    """SERVICE, Edge, ID, Group.Name and RootCause.Fault.Entity are read whatever their case."""
    assert parse(
        'SERVICE(ID(NAME: "a")) Edge("a", "b") Group.Name = "g" RootCause.Fault.Entity { Last }'
    ) == And(
        And(And(Service(NodeRef("a"), None), Edge(NodeRef("a"), NodeRef("b"), None)),
            Group("name", "=", "g")),
        RootCause("fault", "entity", Present(Field("last"))),
    )  # fmt: skip


def test_string_values_keep_their_case() -> None:
    """Only keywords are folded: ``user = "Bob"`` compares with Bob."""
    assert parse('user = "Bob"') == Compare(Field("user"), "=", "Bob")


@pytest.mark.parametrize("text", ["duration<3", "duration <3", "duration< 3", "  duration  <  3  "])
def test_spaces_around_operators_are_optional(text: str) -> None:
    """Spacing around an operator changes nothing."""
    assert parse(text) == Compare(Field("duration"), "<", 3.0)


def test_spaces_around_punctuation_are_optional() -> None:
    """``service("a"){fault}`` and ``!(ok)`` need no spaces."""
    assert parse('!(ok)service("a"){fault}') == And(Not(OK), Service(NodeRef("a"), FAULT))


@pytest.mark.parametrize(
    ("text", "value"),
    [("7", 7.0), ("-3", -3.0), ("0.25", 0.25), ("-0.5", -0.5), ("1e3", 1000.0), ("2E-2", 0.02)],
)
def test_numbers_are_integers_decimals_or_negative(text: str, value: float) -> None:
    """Numbers read as floats, with an optional sign, fraction and exponent."""
    assert parse(f"annotation.n = {text}") == Compare(Annotation("n"), "=", value)


def test_a_number_needs_no_space_after_its_operator() -> None:
    """``duration>-1`` is duration > -1."""
    assert parse("duration>-1") == Compare(Field("duration"), ">", -1.0)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        (r'"a\"b"', 'a"b'),
        (r'"a\\b"', "a\\b"),
        (r'"a\\"', "a\\"),
        (r'"a\db"', r"a\db"),
        (r'"\\\""', '\\"'),
        ('"line\nbreak"', "line\nbreak"),
        ('""', ""),
    ],
)
def test_strings_escape_only_quote_and_backslash(source: str, value: str) -> None:
    r"""``\"`` and ``\\`` are escapes; any other backslash stands for itself."""
    assert parse(f"user = {source}") == Compare(Field("user"), "=", value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("name = traces", "traces"), ("name = payments.internal", "payments.internal"),
     ("name = my-service_2", "my-service_2"), ("name = Traces", "Traces")],
)  # fmt: skip
def test_a_bare_word_value_is_a_string(text: str, value: str) -> None:
    """Right of an operator an unquoted word is read as that string, case kept."""
    tree = parse(f"rootcause.fault.service {{ {text} }}")

    assert tree == RootCause("fault", "service", Compare(Field("name"), "=", value))


def test_a_bare_word_value_ends_at_the_next_space() -> None:
    """``user = bob ok`` is user = "bob" AND ok."""
    assert parse("user = bob ok") == And(Compare(Field("user"), "=", "bob"), OK)


def test_a_bare_word_is_a_group_name_too() -> None:
    """``group.name = slow`` names the group slow."""
    assert parse("group.name = slow") == Group("name", "=", "slow")


def test_true_and_false_are_booleans_not_bare_words() -> None:
    """``annotation.k = true`` compares with the boolean, not the string."""
    tree = parse("annotation.k = true")

    assert tree == Compare(Annotation("k"), "=", True)
    assert tree != Compare(Annotation("k"), "=", "true")


def test_a_bare_string_keyword_tests_presence() -> None:
    """``http.useragent`` alone is a Present condition."""
    assert parse("http.useragent") == Present(Field("http.useragent"))


@pytest.mark.parametrize(
    ("arguments", "ref"),
    [
        ('name: "n"', NodeRef(name="n")),
        ('type: "t"', NodeRef(type="t")),
        ('account.id: "1"', NodeRef(account_id="1")),
        ('type: "t", name: "n"', NodeRef("n", "t")),
        ('account.id: "1", type: "t", name: "n"', NodeRef("n", "t", "1")),
        ('ACCOUNT.ID:"1",NAME:"n"', NodeRef("n", None, "1")),
    ],
)
def test_id_takes_any_subset_of_its_fields_in_any_order(arguments: str, ref: NodeRef) -> None:
    """id(...) names a node by name, type and account id, each optional."""
    assert parse(f"service(id({arguments}))") == Service(ref, None)


def test_a_quoted_name_and_id_with_only_a_name_are_the_same_node() -> None:
    """service("a") and service(id(name: "a")) parse to the same tree."""
    assert parse('service("a")') == parse('service(id(name: "a"))')


def test_service_without_a_block_is_allowed() -> None:
    """service("a") alone tests that the node exists."""
    assert parse('service("a")') == Service(NodeRef("a"), None)


def test_edges_take_two_nodes_and_an_optional_block() -> None:
    """edge("a", id(type: "t")) with and without a block."""
    assert parse('edge("a", id(type: "t")) edge("a", "b") { ok }') == And(
        Edge(NodeRef("a"), NodeRef(type="t"), None), Edge(NodeRef("a"), NodeRef("b"), OK)
    )


def test_blocks_hold_whole_expressions() -> None:
    """A block holds ORs, negations and parentheses."""
    assert parse("service() { !(fault OR error) throttle }") == Service(
        None, And(Not(Or(FAULT, ERROR)), THROTTLE)
    )


def test_group_arn_takes_not_equal() -> None:
    """group.arn != "x" is a Group node."""
    assert parse('group.arn != "x"') == Group("arn", "!=", "x")


@pytest.mark.parametrize("kind", ["fault", "error"])
@pytest.mark.parametrize("level", ["service", "entity", "exception"])
def test_fault_and_error_root_causes_have_three_levels(kind: str, level: str) -> None:
    """rootcause.fault|error.service|entity|exception all parse."""
    assert parse(f"rootcause.{kind}.{level} {{ first }}") == RootCause(
        kind,  # type: ignore[arg-type]
        level,  # type: ignore[arg-type]
        Present(Field("first")),
    )


def test_root_cause_json_keeps_every_value() -> None:
    """The list's JSON values are parsed, in order."""
    tree = parse('rootcause.json = #[{"Services": [{"Name": "a"}]}, {"ClientImpacting": true}]')

    assert tree == RootCauseJson(({"Services": [{"Name": "a"}]}, {"ClientImpacting": True}))


def test_root_cause_json_may_be_followed_by_more_conditions() -> None:
    """Parsing resumes after the closing bracket."""
    assert parse('rootcause.json = #[ {"a": 1} ] AND ok') == And(RootCauseJson(({"a": 1},)), OK)


def test_an_expression_at_the_length_limit_parses() -> None:
    """MAX_LENGTH characters are still accepted."""
    text = "ok" + " " * (MAX_LENGTH - 2)

    assert parse(text) == OK


def test_nesting_at_the_depth_limit_parses() -> None:
    """MAX_DEPTH parentheses are still accepted."""
    text = "(" * MAX_DEPTH + "ok" + ")" * MAX_DEPTH

    assert parse(text) == OK


def test_the_condition_limit_is_inclusive() -> None:
    """MAX_CONDITIONS conditions are still accepted."""
    tree = parse(" ".join(["ok"] * MAX_CONDITIONS))

    assert isinstance(tree, And)
