"""Every way a filter expression is refused: where, and what was expected there."""

import pytest

from fluoroscope.errors import FilterSyntaxError
from fluoroscope.filters import parse
from fluoroscope.filters.parser import MAX_CONDITIONS, MAX_DEPTH, MAX_LENGTH

_TERM = 'a keyword, "!" or "("'
_END = '"AND", "OR" or the end of the expression'
_NODE = "a quoted service name or id(...)"
_ID_FIELDS = '"name", "type" or "account.id"'
_ROOT_CAUSES = (
    "rootcause.fault|error.service|entity|exception, "
    "rootcause.responsetime.service|entity or rootcause.json"
)
_NUMBER_OPS = '"=", "!=", "<", "<=", ">" or ">="'
_STRING_OPS = '"=", "!=", CONTAINS, BEGINSWITH or ENDSWITH'

# (expression, position, expected): the position is marked by the text before it where that
# reads more easily than a number.
CASES = [
    # Nothing, or too much.
    ("", 0, "a filter expression"),
    ("   ", 3, "a filter expression"),
    ("ok )", 3, _END),
    ('ok "x"', 3, _END),
    ("ok 3", 3, _END),
    ("ok $", 3, _END),
    ("ok = true false", 10, "a keyword"),
    # Where a condition must start.
    ("$", 0, _TERM),
    (")", 0, _TERM),
    ("AND ok", 0, _TERM),
    ("ok OR", 5, _TERM),
    ("ok AND )", 7, _TERM),
    ("!", 1, _TERM),
    ("NOT", 3, _TERM),
    ("()", 1, _TERM),
    ("(ok", 3, '")"'),
    ("(ok }", 4, '")"'),
    # Strings.
    ('user = "open', 7, "'\"'"),
    ('user = "a\\"', 7, "'\"'"),
    ('"', 0, "'\"'"),
    # Keywords.
    ("foo", 0, "a keyword"),
    ("ok foo", 3, "a keyword"),
    ("id", 0, "a keyword"),
    ("annotation.", 11, "an annotation key of letters, digits and _"),
    ("annotation.a.b", 11, "an annotation key of letters, digits and _"),
    ("annotation.a-b = 1", 11, "an annotation key of letters, digits and _"),
    ("root", 0, "a keyword allowed at the top level"),
    ("first", 0, "a keyword allowed at the top level"),
    ("service() { annotation.k }", 12, "a keyword allowed inside service() { }"),
    ('edge("a", "b") { annotation.k = 1 }', 17, "a keyword allowed inside edge() { }"),
    (
        "rootcause.fault.entity { annotation.k }",
        25,
        "a keyword allowed inside rootcause.fault.entity { }",
    ),
    (
        "rootcause.fault.entity { coverage > 0.5 }",
        25,
        "a keyword allowed inside rootcause.fault.entity { }",
    ),
    (
        'rootcause.responsetime.service { message = "x" }',
        33,
        "a keyword allowed inside rootcause.responsetime.service { }",
    ),
    ('edge("a", "b") { user = "x" }', 17, "a keyword allowed inside edge() { }"),
    # Operators.
    ("duration", 8, f"{_NUMBER_OPS} after duration"),
    ("duration ok", 9, f"{_NUMBER_OPS} after duration"),
    ("fault < 1", 6, '"=" or "!="'),
    ('fault CONTAINS "x"', 6, '"=" or "!="'),
    ("duration CONTAINS 3", 9, _NUMBER_OPS),
    ('http.url >= "x"', 9, _STRING_OPS),
    # Values.
    ("duration >", 10, 'a value after ">"'),
    ("user = )", 7, 'a value after "="'),
    ("user = AND ok", 7, 'a value after "="'),
    ("user = not", 7, 'a value after "="'),
    ("user = #[1]", 7, 'a value after "="'),
    ("user = $", 7, 'a value after "="'),
    ("fault = 1", 8, "true or false"),
    ('fault = "true"', 8, "true or false"),
    ('duration = "1"', 11, "a number"),
    ("duration = true", 11, "a number"),
    ("duration = fast", 11, "a number"),
    ("duration > 1e999", 11, "a number a double can hold"),
    ("user = 1", 7, "a quoted string"),
    ("user = false", 7, "a quoted string"),
    ('annotation.k < "x"', 15, "a number"),
    ("annotation.k > true", 15, "a number"),
    ("annotation.k CONTAINS 1", 22, "a quoted string"),
    # service() and edge().
    ("service", 7, '"("'),
    ("service(", 8, _NODE),
    ("service(a)", 8, _NODE),
    ('service("a"', 11, '")"'),
    ('service("a") {', 14, _TERM),
    ('service("a") { }', 15, _TERM),
    ('service("a") { ok', 17, '"}"'),
    ('service("a") { ok )', 18, '"}"'),
    ("service() { service() }", 12, "a keyword allowed inside service() { }"),
    ('service() { edge("a", "b") }', 12, "a keyword allowed inside service() { }"),
    ('edge("a", "b") { group.name = "g" }', 17, "a keyword allowed inside edge() { }"),
    ("edge()", 5, _NODE),
    ('edge("a")', 8, '","'),
    ('edge("a",', 9, _NODE),
    ('edge("a", "b"', 13, '")"'),
    # id().
    ("service(id)", 10, '"("'),
    ("service(id())", 11, _ID_FIELDS),
    ('service(id(color: "x"))', 11, _ID_FIELDS),
    ('service(id(name "x"))', 16, '":"'),
    ("service(id(name: x))", 17, "a quoted string"),
    ('service(id(name: "x" type: "t"))', 21, '"," or ")"'),
    ('service(id(name: "x",))', 21, '"type" or "account.id"'),
    ('service(id(name: "a", name: "b"))', 22, '"type" or "account.id"'),
    ('service(id(name: "a", type: "t", account.id: "1",))', 48, '")"'),
    # group.name and group.arn.
    ("group.name", 10, '"=" or "!="'),
    ('group.name > "x"', 11, '"=" or "!="'),
    ("group.name = 3", 13, "a quoted group name"),
    ("group.arn = true", 12, "a quoted group ARN"),
    ("group.arn =", 11, "a quoted group ARN"),
    # Root causes.
    ("rootcause.fault", 0, _ROOT_CAUSES),
    ("rootcause.responsetime.exception { first }", 0, _ROOT_CAUSES),
    ("rootcause.timeout.service { first }", 0, _ROOT_CAUSES),
    ("rootcause.fault.service", 23, '"{"'),
    ("rootcause.fault.service ok", 24, '"{"'),
    ("rootcause.fault.service { }", 26, _TERM),
    (
        "service() { rootcause.fault.service { first } }",
        12,
        "a keyword allowed inside service() { }",
    ),
    # rootcause.json.
    ("rootcause.json", 14, '"="'),
    ("rootcause.json != #[1]", 15, '"="'),
    ("rootcause.json = [1]", 17, '"#["'),
    ("rootcause.json = #[", 19, "a JSON value"),
    ("rootcause.json = #[]", 19, "a JSON value"),
    ("rootcause.json = #[{", 20, "a JSON value"),
    ("rootcause.json = #[1 2]", 21, '"," or "]"'),
    ("rootcause.json = #[1", 20, '"," or "]"'),
    ("rootcause.json = #[1,]", 21, "a JSON value"),
    ("rootcause.json = #[NaN]", 19, "a JSON value"),
    ("rootcause.json = #[-Infinity]", 19, "a JSON value"),
    ("rootcause.json = #[1e999]", 19, "a JSON value"),
    ("rootcause.json = #[" + "9" * 301 + "]", 19, "a JSON value"),
    ("service() { rootcause.json = #[1] }", 12, "a keyword allowed inside service() { }"),
    # Digits running into letters are a bad number, not a number and an unknown keyword.
    ("http.status = 0x1F4", 14, "a decimal number such as 500 or 0.5"),
    ("http.status >= 5xx", 15, "a decimal number such as 500 or 0.5"),
    ("responsetime > -1s", 15, "a decimal number such as 500 or 0.5"),
]


@pytest.mark.parametrize(("text", "position", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_a_malformed_expression_names_where_and_what_was_expected(
    text: str, position: int, expected: str
) -> None:
    """The error carries the offset of the first problem and what would have been valid."""
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)

    assert (caught.value.position, caught.value.expected) == (position, expected)


def test_a_hexadecimal_number_is_named_as_written() -> None:
    """The message quotes the whole bad number."""
    with pytest.raises(FilterSyntaxError, match="'0x1F4' is not a number"):
        parse("http.status = 0x1F4")


def test_the_message_repeats_the_position_and_the_expectation() -> None:
    """str(error) says what was found, where, and what was expected."""
    with pytest.raises(FilterSyntaxError) as caught:
        parse("duration >")

    assert str(caught.value) == (
        'unexpected end of the expression at position 10: expected a value after ">"'
    )


def test_the_first_problem_is_reported_even_when_a_later_one_is_lexical() -> None:
    """An unterminated string later on does not hide an earlier mistake."""
    with pytest.raises(FilterSyntaxError) as caught:
        parse(') "never closed')

    assert caught.value.position == 0


def test_overlong_expressions_are_refused_before_any_parsing() -> None:
    """One character past MAX_LENGTH is refused at the limit."""
    with pytest.raises(FilterSyntaxError) as caught:
        parse("ok" + " " * (MAX_LENGTH - 1))

    assert caught.value.position == MAX_LENGTH
    assert caught.value.expected == f"at most {MAX_LENGTH} characters"


@pytest.mark.parametrize(
    ("prefix", "opener", "condition", "closer", "suffix", "used"),
    [
        ("", "(", "ok", ")", "", 0),
        ("", "!", "ok", "", "", 0),
        ("", "NOT ", "ok", "", "", 0),
        ("service() { ", "(", "ok", ")", " }", 1),
        ("rootcause.fault.entity { ", "!", "first", "", " }", 1),
    ],
    ids=["parentheses", "bangs", "NOT", "parentheses in a block", "negations in a block"],
)
def test_nesting_one_past_the_limit_is_refused_at_that_opener(
    prefix: str, opener: str, condition: str, closer: str, suffix: str, used: int
) -> None:
    """Parentheses, negations and blocks together nest at most MAX_DEPTH deep."""
    count = MAX_DEPTH + 1 - used
    text = prefix + opener * count + condition + closer * count + suffix

    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)

    assert caught.value.position == len(prefix) + len(opener) * (count - 1)
    assert caught.value.expected == (
        f"at most {MAX_DEPTH} nested parentheses, negations and blocks"
    )


def test_nesting_up_to_the_limit_inside_a_block_parses() -> None:
    """A block and MAX_DEPTH - 1 parentheses inside it are accepted."""
    count = MAX_DEPTH - 1

    assert parse("service() { " + "(" * count + "ok" + ")" * count + " }")


@pytest.mark.parametrize(
    "text",
    [
        "(" * 3000 + "ok" + ")" * 3000,
        "!" * 3000 + "ok",
        "rootcause.json = #[" + "[" * 3000 + "]" * 3000 + "]",
        "rootcause.json = #[" + '{"a":' * 1000,
    ],
    ids=["parentheses", "negations", "json lists", "json objects"],
)
def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(text: str) -> None:
    """Thousands of openers end in a FilterSyntaxError."""
    with pytest.raises(FilterSyntaxError, match="nests more than"):
        parse(text)


def test_too_many_conditions_are_refused_at_the_first_one_too_many() -> None:
    """A chain of MAX_CONDITIONS + 1 conditions is refused at the last one."""
    text = " OR ".join(["ok"] * (MAX_CONDITIONS + 1))

    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)

    assert caught.value.position == len(text) - 2
    assert caught.value.expected == f"at most {MAX_CONDITIONS} conditions"
