"""The canonical text format_filter prints for a tree."""

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

A, B, C = (Present(Field(name)) for name in ("ok", "fault", "error"))


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        (And(And(A, B), C), "ok AND fault AND error"),
        (And(A, And(B, C)), "ok AND (fault AND error)"),
        (Or(And(A, B), C), "ok AND fault OR error"),
        (And(Or(A, B), C), "(ok OR fault) AND error"),
        (Or(A, Or(B, C)), "ok OR (fault OR error)"),
        (Not(And(A, B)), "!(ok AND fault)"),
        (Not(Not(A)), "!!ok"),
        (And(Not(A), B), "!ok AND fault"),
    ],
)
def test_parentheses_appear_only_where_precedence_needs_them(tree: Node, text: str) -> None:
    """Left-grouped chains print flat; anything else keeps its parentheses."""
    assert format_filter(tree) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (-2.0, "-2"),
        (0.25, "0.25"),
        (1e-05, "1e-05"),
        (1e16, "1e+16"),
        (-0.0, "-0.0"),
        (True, "true"),
        (False, "false"),
        ('say "hi" \\o/', '"say \\"hi\\" \\\\o/"'),
    ],
)
def test_values_print_in_their_shortest_exact_form(value: str | float | bool, text: str) -> None:
    """Whole numbers drop the fraction, strings escape quote and backslash."""
    assert format_filter(Compare(Annotation("k"), "=", value)) == f"annotation.k = {text}"


def test_string_operators_print_uppercase() -> None:
    """contains prints as CONTAINS."""
    assert format_filter(Compare(Field("http.url"), "contains", "x")) == 'http.url CONTAINS "x"'


def test_a_node_with_only_a_name_prints_as_a_quoted_name() -> None:
    """NodeRef("a") prints as "a", anything more as id(...) in a fixed order."""
    tree = Edge(NodeRef("a"), NodeRef("b", "t", "1"), None)

    assert format_filter(tree) == 'edge("a", id(name: "b", type: "t", account.id: "1"))'


def test_blocks_print_inside_braces() -> None:
    """service() and root-cause blocks print their block between braces."""
    tree = And(Service(None, A), RootCause("fault", "entity", Present(Field("last"))))

    assert format_filter(tree) == "service() { ok } AND rootcause.fault.entity { last }"


def test_groups_and_json_print_in_their_own_syntax() -> None:
    """group.name = "g" and rootcause.json = #[...] print as written."""
    tree = And(Group("name", "=", "g"), RootCauseJson(({"Name": "a"}, None)))

    assert format_filter(tree) == 'group.name = "g" AND rootcause.json = #[{"Name": "a"}, null]'


def test_printing_is_idempotent() -> None:
    """Canonical text parses and prints to itself."""
    text = format_filter(parse('(OK or Fault) and NOT user contains "x" duration<1.50'))

    assert format_filter(parse(text)) == text
    assert text == '(ok OR fault) AND !user CONTAINS "x" AND duration < 1.5'


def test_an_empty_node_reference_has_no_text() -> None:
    """id() with no fields cannot be written, so printing it is a ValueError."""
    with pytest.raises(ValueError, match="node reference"):
        format_filter(Service(NodeRef(), None))


def test_an_infinite_number_has_no_text() -> None:
    """Infinity cannot be written, so printing it is a ValueError."""
    with pytest.raises(ValueError, match="no text form"):
        format_filter(Compare(Field("duration"), "<", float("inf")))


def test_a_non_node_is_a_type_error() -> None:
    """Anything that is not a filter node is refused."""
    with pytest.raises(TypeError):
        format_filter("ok")  # type: ignore[arg-type]
