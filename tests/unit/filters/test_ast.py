"""The filter syntax tree: its keyword table and how its nodes compare."""

from fluoroscope.filters.ast import (
    KEYWORDS,
    SCOPES,
    And,
    Annotation,
    Compare,
    Field,
    Not,
    Present,
    RootCauseJson,
)


def test_the_keyword_table_lists_exactly_the_documented_simple_keywords() -> None:
    """KEYWORDS names every simple keyword of xray-protocol.md 8.3 and nothing else."""
    documented = {
        "ok", "error", "throttle", "fault", "partial", "inferred", "root", "first", "last",
        "remote", "responsetime", "duration", "http.status", "index", "coverage", "http.url",
        "http.method", "http.useragent", "http.clientip", "user", "name", "type", "message",
        "availabilityzone", "instance.id", "resource.arn",
    }  # fmt: skip

    assert set(KEYWORDS) == documented


def test_each_keyword_has_the_documented_kind() -> None:
    """Booleans, numbers and strings are as 8.3 classifies them."""
    kinds = {name: entry.kind for name, entry in KEYWORDS.items()}

    assert {name for name, kind in kinds.items() if kind == "number"} == {
        "responsetime", "duration", "http.status", "index", "coverage",
    }  # fmt: skip
    assert {name for name, kind in kinds.items() if kind == "bool"} == {
        "ok", "error", "throttle", "fault", "partial", "inferred", "root", "first", "last",
        "remote",
    }  # fmt: skip


def test_every_keyword_has_at_least_one_known_scope() -> None:
    """Each keyword's scopes are non-empty and drawn from SCOPES."""
    for name, entry in KEYWORDS.items():
        assert entry.scopes, name
        assert entry.scopes <= set(SCOPES), name


def test_root_cause_list_keywords_only_appear_in_root_cause_blocks() -> None:
    """index, first, last, coverage, remote and message belong to root-cause blocks."""
    for name in ("index", "first", "last", "coverage", "remote", "message"):
        assert all(scope.startswith("rootcause.") for scope in KEYWORDS[name].scopes), name


def test_root_is_only_a_service_block_keyword() -> None:
    """root says whether a service node is the entry point, so only service() blocks have it."""
    assert KEYWORDS["root"].scopes == {"service"}


def test_coverage_belongs_to_response_time_entities() -> None:
    """Only response-time root causes report coverage, and only per entity."""
    assert KEYWORDS["coverage"].scopes == {"rootcause.responsetime.entity"}


def test_there_is_no_response_time_exception_scope() -> None:
    """Response-time root causes list no exceptions."""
    assert "rootcause.responsetime.exception" not in SCOPES


def test_nodes_compare_by_value() -> None:
    """Two trees built alike are equal and hash alike."""
    left = And(Present(Field("ok")), Not(Compare(Annotation("k"), "=", "x")))
    right = And(Present(Field("ok")), Not(Compare(Annotation("k"), "=", "x")))

    assert left == right
    assert hash(left) == hash(right)


def test_a_boolean_value_is_not_the_number_one() -> None:
    """annotation.k = true and annotation.k = 1 are different conditions."""
    boolean = Compare(Annotation("k"), "=", True)
    number = Compare(Annotation("k"), "=", 1.0)

    assert boolean != number
    assert len({boolean, number}) == 2


def test_whole_numbers_compare_equal_whatever_their_python_type() -> None:
    """A hand-built Compare with the int 3 equals the parsed float 3.0."""
    assert Compare(Field("duration"), "<", 3) == Compare(Field("duration"), "<", 3.0)


def test_root_cause_json_ignores_key_order() -> None:
    """JSON objects with the same members in another order are the same fragment."""
    left = RootCauseJson(({"a": 1, "b": [True]},))
    right = RootCauseJson(({"b": [True], "a": 1},))

    assert left == right
    assert hash(left) == hash(right)


def test_root_cause_json_tells_true_from_one() -> None:
    """JSON true and JSON 1 are different fragments."""
    assert RootCauseJson(({"a": True},)) != RootCauseJson(({"a": 1},))


def test_root_cause_json_nodes_can_be_set_members() -> None:
    """Unhashable JSON values (dicts, lists) still give a hashable node."""
    nodes = {RootCauseJson(({"a": [1]},)), RootCauseJson(({"a": [1]},))}

    assert len(nodes) == 1
