"""Properties of the parser and printer over generated input."""

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from fluoroscope.errors import FilterSyntaxError
from fluoroscope.filters import format_filter, parse
from fluoroscope.filters.ast import (
    KEYWORDS,
    ROOT_CAUSE_BLOCKS,
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

# Bounded so the whole file runs in about a second.
_SETTINGS = settings(max_examples=250, deadline=None)

# -- arbitrary input -------------------------------------------------------------------------

_TOKENS = [
    *KEYWORDS, "annotation.k", "annotation.", "ANNOTATION.Key", "service", "edge", "id",
    "name:", "type:", "account.id:", "group.name", "group.arn", "rootcause.json",
    "rootcause.fault.entity", "rootcause.responsetime.exception", "rootcause.error",
    "AND", "and", "OR", "NOT", "!", "(", ")", "{", "}", ",", ":", "#[", "]", "[",
    "=", "!=", "<", "<=", ">", ">=", "CONTAINS", "beginswith", "EndsWith",
    '"x"', '""', '"a\\"b"', '"\\\\"', '"open', "\\", "1", "-2.5", "1e999", "0.", "true",
    "FALSE", "traces", '{"a": [1, {"b": null}]}', "NaN", "$", "#",
]  # fmt: skip
_SOUP = st.lists(
    st.tuples(st.sampled_from(_TOKENS), st.sampled_from([" ", "", "\n"])), max_size=30
).map(lambda pairs: "".join(token + space for token, space in pairs))
_GRAMMAR_CHARACTERS = st.text(
    alphabet=string.ascii_letters[:8] + '.()[]{}#!=<>"\\,: -0123', max_size=60
)


def _error_of(text: str) -> FilterSyntaxError | None:
    """The error parsing ``text`` raises, if any; any other exception propagates."""
    try:
        parse(text)
    except FilterSyntaxError as error:
        return error
    return None


def _refused_cleanly(text: str) -> bool:
    """Whether ``text`` parses, or is refused with a position inside it and an expectation."""
    error = _error_of(text)
    return error is None or (0 <= error.position <= len(text) and bool(error.expected))


@given(st.text(max_size=80))
@_SETTINGS
def test_random_text_never_raises_anything_but_a_syntax_error(text: str) -> None:
    """Arbitrary input either parses or is refused with a position inside it."""
    assert _refused_cleanly(text)


@given(_GRAMMAR_CHARACTERS)
@_SETTINGS
def test_strings_of_grammar_characters_never_raise_anything_but_a_syntax_error(
    text: str,
) -> None:
    """Input made of the grammar's punctuation either parses or is refused cleanly."""
    assert _refused_cleanly(text)


@given(_SOUP)
@_SETTINGS
def test_token_soup_never_raises_anything_but_a_syntax_error(text: str) -> None:
    """Sequences of real tokens either parse or are refused cleanly."""
    assert _refused_cleanly(text)


@given(_SOUP)
@_SETTINGS
def test_whatever_parses_prints_to_text_that_parses_to_the_same_tree(text: str) -> None:
    """Every tree the parser returns survives printing and parsing again."""
    try:
        tree = parse(text)
    except FilterSyntaxError:
        return

    assert parse(format_filter(tree)) == tree


# -- well-formed trees -----------------------------------------------------------------------

_STRINGS = st.text(max_size=8)
_NUMBERS = st.floats(allow_nan=False, allow_infinity=False)
_VALUES = {"bool": st.booleans(), "number": _NUMBERS, "string": _STRINGS}
_OPS = {
    "bool": ["=", "!="],
    "number": ["=", "!=", "<", "<=", ">", ">="],
    "string": ["=", "!=", "contains", "beginswith", "endswith"],
}
_KEYS = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=6)
_REFS = st.builds(NodeRef, st.none() | _STRINGS, st.none() | _STRINGS, st.none() | _STRINGS).filter(
    lambda ref: (ref.name, ref.type, ref.account_id) != (None, None, None)
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | _NUMBERS | _STRINGS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_STRINGS, inner, max_size=3),
    max_leaves=6,
)


def _conditions(scope: str) -> st.SearchStrategy[Node]:
    """Single conditions valid in ``scope``."""
    options: list[st.SearchStrategy[Node]] = []
    for kind, ops in _OPS.items():
        names = sorted(n for n, e in KEYWORDS.items() if scope in e.scopes and e.kind == kind)
        if not names:
            continue
        fields = st.sampled_from(names).map(Field)
        if kind != "number":
            options.append(fields.map(Present))
        options.append(st.builds(Compare, fields, st.sampled_from(ops), _VALUES[kind]))
    if scope == "trace":
        keys = _KEYS.map(Annotation)
        options += [
            keys.map(Present),
            st.builds(
                Compare, keys, st.sampled_from(["=", "!="]), _STRINGS | _NUMBERS | st.booleans()
            ),
            st.builds(Compare, keys, st.sampled_from(["<", "<=", ">", ">="]), _NUMBERS),
            st.builds(
                Compare, keys, st.sampled_from(["contains", "beginswith", "endswith"]), _STRINGS
            ),
            st.builds(
                Group, st.sampled_from(["name", "arn"]), st.sampled_from(["=", "!="]), _STRINGS
            ),
            st.lists(_JSON, min_size=1, max_size=3).map(
                lambda values: RootCauseJson(tuple(values))
            ),
            st.builds(Service, st.none() | _REFS, st.none() | _trees("service")),
            st.builds(Edge, _REFS, _REFS, st.none() | _trees("edge")),
            *(
                st.builds(
                    RootCause, st.just(kind), st.just(level), _trees(f"rootcause.{kind}.{level}")
                )
                for kind, level in ROOT_CAUSE_BLOCKS
            ),
        ]
    return st.one_of(options)


def _trees(scope: str) -> st.SearchStrategy[Node]:
    """Expressions valid in ``scope``: conditions joined by AND, OR and !."""
    return st.recursive(
        _conditions(scope),
        lambda inner: st.builds(And, inner, inner) | st.builds(Or, inner, inner) | inner.map(Not),
        max_leaves=6,
    )


@given(_trees("trace"))
@_SETTINGS
def test_printed_trees_parse_back_to_themselves(tree: Node) -> None:
    """format_filter is the inverse of parse on every well-formed tree."""
    text = format_filter(tree)

    assert parse(text) == tree


@given(_trees("trace"))
@_SETTINGS
def test_printing_a_parsed_tree_gives_the_same_text(tree: Node) -> None:
    """Canonical text is a fixed point: no sign, case or escape is lost on the way."""
    text = format_filter(tree)

    assert format_filter(parse(text)) == text
