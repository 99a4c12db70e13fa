"""Parsing X-Ray filter expressions into :mod:`fluoroscope.filters.ast` trees.

A hand-written recursive-descent parser over a lazy tokenizer, one token of look-ahead. The
grammar is small (xray-protocol.md 8.5), and writing it out gives every error the exact
offset of the first thing that is wrong and a precise ``expected`` (``a value after "="``,
``")"``, ``a keyword``) without a parser-generator dependency. Every refusal is a
:class:`~fluoroscope.errors.FilterSyntaxError`.

Choices where X-Ray's documentation is silent (xray-protocol.md 8.3, 12):

- Keywords, ``AND``/``OR``/``NOT``, ``true``/``false`` and the string operators are
  case-insensitive; annotation keys and string values keep their case. ``NOT`` is a synonym
  of ``!``, so ``NOT`` cannot be a bare-word value. Precedence is ``!`` over ``AND`` over
  ``OR``, both binary operators group to the left, and juxtaposition is ``AND``
  (``ok !partial`` is ``ok AND !partial``).
- Strings are double-quoted. ``\\"`` stands for ``"`` and ``\\\\`` for ``\\``; any other
  backslash is kept as it is (``"a\\d"`` is the three characters ``a\\d``), so regular
  expressions and Windows paths can be written without doubling.
- Numbers are decimal (``3``, ``-1``, ``0.25``, also ``1e3``, which is how floats print) and
  are read as floats; a number too large for a double is refused.
- Right of a comparison operator (and of ``group.name =``), a bare word such as ``traces`` is
  read as the string ``"traces"``; ``true`` and ``false`` are booleans and ``AND``, ``OR`` and
  ``NOT`` are never values. Service names inside ``service()``, ``edge()`` and ``id()`` must
  be quoted.
- Types are checked while parsing: booleans take ``=``/``!=`` with ``true``/``false``;
  numbers take ``= != < <= > >=`` with a number; strings take ``= !=`` and the string
  operators with a string; annotations take ``=``/``!=`` with anything, ``< <= > >=`` with a
  number and the string operators with a string. Where a keyword may appear is
  :data:`~fluoroscope.filters.ast.KEYWORDS`; annotations, ``service()``, ``edge()``,
  ``group.*`` and ``rootcause.*`` only appear at the top level.
- ``rootcause.error.*`` is accepted like ``rootcause.fault.*``; ``rootcause.json`` takes a
  non-empty list of JSON values.

Bounds, so hostile input costs bounded work and never a ``RecursionError`` here or in code
that walks the tree: at most :data:`MAX_LENGTH` characters (about four times the 2000
the X-Ray API once documented, so any expression it accepted fits), parentheses, negations,
blocks and JSON nesting at most :data:`MAX_DEPTH` deep, and at most :data:`MAX_CONDITIONS`
conditions, which bounds how tall an ``AND``/``OR`` chain can make the tree.
"""

import math
import re
from typing import Literal, NoReturn, cast

from fluoroscope.errors import FilterSyntaxError
from fluoroscope.filters._lexer import Token, next_token, read_json_list, unquote
from fluoroscope.filters.ast import (
    EQUALITY_OPS,
    KEYWORDS,
    ORDER_OPS,
    STRING_OPS,
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
    Value,
)

MAX_LENGTH = 8192
MAX_DEPTH = 64
MAX_CONDITIONS = 256

_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9_]+")
_ROOT_CAUSE = re.compile(r"rootcause\.(fault|error|responsetime)\.(service|entity|exception)")
_ID_FIELDS = ("name", "type", "account.id")
_OPS_BY_KIND = {
    "bool": EQUALITY_OPS,
    "number": (*EQUALITY_OPS, *ORDER_OPS),
    "string": (*EQUALITY_OPS, *STRING_OPS),
    "annotation": (*EQUALITY_OPS, *ORDER_OPS, *STRING_OPS),
}
_RESERVED = ("and", "or", "not")
_TERM = 'a keyword, "!" or "("'


def parse(text: str) -> Node:
    """Parse a filter expression; raise FilterSyntaxError saying where and what was expected."""
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(
            f"the expression is longer than {MAX_LENGTH} characters",
            MAX_LENGTH,
            f"at most {MAX_LENGTH} characters",
        )
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.depth = 0
        self.conditions = 0
        self.current = next_token(text, 0)

    # -- tokens ----------------------------------------------------------------------------

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.current = next_token(self.text, token.end)
        return token

    def fail(self, expected: str) -> NoReturn:
        token = self.current
        found = "end of the expression" if token.kind == "end" else repr(token.text)
        raise FilterSyntaxError(f"unexpected {found}", token.position, expected)

    def expect(self, text: str) -> Token:
        if not self.current.is_punct(text):
            self.fail(f'"{text}"')
        return self.advance()

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(
                f"the expression nests more than {MAX_DEPTH} deep",
                token.position,
                f"at most {MAX_DEPTH} nested parentheses, negations and blocks",
            )

    def count(self, token: Token) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise FilterSyntaxError(
                f"the expression has more than {MAX_CONDITIONS} conditions",
                token.position,
                f"at most {MAX_CONDITIONS} conditions",
            )

    # -- logic -----------------------------------------------------------------------------

    def parse(self) -> Node:
        if self.current.kind == "end":
            self.fail("a filter expression")
        node = self.or_expr("trace")
        if self.current.kind != "end":
            self.fail('"AND", "OR" or the end of the expression')
        return node

    def or_expr(self, scope: str) -> Node:
        node = self.and_expr(scope)
        while self.current.word == "or":
            self.advance()
            node = Or(node, self.and_expr(scope))
        return node

    def and_expr(self, scope: str) -> Node:
        node = self.unary(scope)
        while True:
            token = self.current
            if token.word == "and":
                self.advance()
            elif not _starts_term(token):
                return node
            node = And(node, self.unary(scope))

    def unary(self, scope: str) -> Node:
        token = self.current
        if token.kind == "bang" or token.word == "not":
            self.advance()
            self.enter(token)
            node = Not(self.unary(scope))
            self.depth -= 1
            return node
        return self.primary(scope)

    def primary(self, scope: str) -> Node:
        token = self.current
        if token.is_punct("("):
            self.advance()
            self.enter(token)
            node = self.or_expr(scope)
            self.expect(")")
            self.depth -= 1
            return node
        if token.kind != "word" or token.word in _RESERVED:
            self.fail(_TERM)
        self.count(token)
        word = token.word
        if word == "service":
            return self.service(scope)
        if word == "edge":
            return self.edge(scope)
        if word in ("group.name", "group.arn"):
            return self.group(scope)
        if word == "rootcause.json":
            return self.rootcause_json(scope)
        if word.startswith("rootcause."):
            return self.rootcause(scope)
        return self.comparison(scope)

    # -- complex terms ---------------------------------------------------------------------

    def top_level_only(self, scope: str) -> Token:
        token = self.current
        if scope != "trace":
            raise FilterSyntaxError(
                f"{token.text} cannot be used {_where(scope)}",
                token.position,
                f"a keyword allowed {_where(scope)}",
            )
        return self.advance()

    def service(self, scope: str) -> Node:
        self.top_level_only(scope)
        self.expect("(")
        node = None if self.current.is_punct(")") else self.node_ref()
        self.expect(")")
        return Service(node, self.block("service"))

    def edge(self, scope: str) -> Node:
        self.top_level_only(scope)
        self.expect("(")
        source = self.node_ref()
        self.expect(",")
        target = self.node_ref()
        self.expect(")")
        return Edge(source, target, self.block("edge"))

    def block(self, scope: str, required: bool = False) -> Node | None:
        token = self.current
        if not token.is_punct("{"):
            if required:
                self.fail('"{"')
            return None
        self.advance()
        self.enter(token)
        node = self.or_expr(scope)
        self.expect("}")
        self.depth -= 1
        return node

    def node_ref(self) -> NodeRef:
        token = self.current
        if token.kind == "string":
            self.advance()
            return NodeRef(name=unquote(token.text))
        if token.word != "id":
            self.fail("a quoted service name or id(...)")
        self.advance()
        self.expect("(")
        found: dict[str, str] = {}
        while True:
            remaining = [name for name in _ID_FIELDS if name not in found]
            key = self.current
            if key.word not in remaining:
                self.fail(_choices([f'"{name}"' for name in remaining]))
            self.advance()
            self.expect(":")
            value = self.current
            if value.kind != "string":
                self.fail("a quoted string")
            self.advance()
            found[key.word] = unquote(value.text)
            if len(found) < len(_ID_FIELDS) and self.current.is_punct(","):
                self.advance()
                continue
            if not self.current.is_punct(")"):
                self.fail('"," or ")"' if len(found) < len(_ID_FIELDS) else '")"')
            self.advance()
            return NodeRef(found.get("name"), found.get("type"), found.get("account.id"))

    def group(self, scope: str) -> Node:
        token = self.top_level_only(scope)
        op = self.current
        if op.kind != "op" or op.text not in EQUALITY_OPS:
            self.fail('"=" or "!="')
        self.advance()
        value = self.current
        if value.kind == "string":
            text = unquote(value.text)
        elif value.kind == "word" and value.word not in (*_RESERVED, "true", "false"):
            text = value.text
        else:
            self.fail("a quoted group name" if token.word == "group.name" else "a quoted group ARN")
        self.advance()
        return Group(
            cast(Literal["name", "arn"], token.word.split(".")[1]),
            cast(Literal["=", "!="], op.text),
            text,
        )

    def rootcause(self, scope: str) -> Node:
        token = self.current
        match = _ROOT_CAUSE.fullmatch(token.word)
        if match is None or match.groups() == ("responsetime", "exception"):
            raise FilterSyntaxError(
                f"unknown root-cause block {token.text!r}",
                token.position,
                "rootcause.fault|error.service|entity|exception, "
                "rootcause.responsetime.service|entity or rootcause.json",
            )
        self.top_level_only(scope)
        kind, level = match.groups()
        block = self.block(f"rootcause.{kind}.{level}", required=True)
        assert block is not None  # required=True either returns a block or raises
        return RootCause(
            cast(Literal["fault", "error", "responsetime"], kind),
            cast(Literal["service", "entity", "exception"], level),
            block,
        )

    def rootcause_json(self, scope: str) -> Node:
        self.top_level_only(scope)
        if not (self.current.kind == "op" and self.current.text == "="):
            self.fail('"="')
        self.advance()
        opening = self.current
        if opening.kind != "json":
            self.fail('"#["')
        values, end = read_json_list(self.text, opening.end, MAX_DEPTH)
        self.current = next_token(self.text, end)
        return RootCauseJson(tuple(values))

    # -- comparisons -----------------------------------------------------------------------

    def comparison(self, scope: str) -> Node:
        token = self.advance()
        subject, kind = _subject(token, scope)
        op_token = self.current
        if op_token.kind == "op":
            op = op_token.text
        elif op_token.word in STRING_OPS:
            op = op_token.word
        else:
            if kind == "number":
                self.fail(f"{_operators(kind)} after {token.word}")
            return Present(subject)
        allowed = _OPS_BY_KIND[kind]
        if op not in allowed:
            raise FilterSyntaxError(
                f"{_show(op)} does not apply to {_describe(kind, token)}",
                op_token.position,
                _operators(kind),
            )
        self.advance()
        value = self.value(token, op_token, op, kind)
        return Compare(subject, op, value)

    def value(self, subject: Token, op_token: Token, op: str, kind: str) -> Value:
        token = self.current
        value: Value
        if token.kind == "string":
            value = unquote(token.text)
        elif token.kind == "number":
            value = float(token.text)
            if not math.isfinite(value):
                raise FilterSyntaxError(
                    f"{token.text} is too large", token.position, "a number a double can hold"
                )
        elif token.word in ("true", "false"):
            value = token.word == "true"
        elif token.kind == "word" and token.word not in _RESERVED:
            value = token.text
        else:
            self.fail(f'a value after "{op_token.text}"')
        expected = _expected_value(kind, op, value)
        if expected is not None:
            raise FilterSyntaxError(
                f"{subject.text} {op_token.text} takes {expected}, not {token.text}",
                token.position,
                expected,
            )
        self.advance()
        return value


def _starts_term(token: Token) -> bool:
    """Whether ``token`` can begin another operand of a juxtaposed AND."""
    if token.kind == "word":
        return token.word not in ("and", "or")
    return token.kind == "bang" or token.is_punct("(")


def _subject(token: Token, scope: str) -> tuple[Field | Annotation, str]:
    """The keyword or annotation ``token`` names, and its kind, if allowed in ``scope``."""
    word = token.word
    if word.startswith("annotation."):
        if scope != "trace":
            raise FilterSyntaxError(
                f"annotations cannot be used {_where(scope)}",
                token.position,
                f"a keyword allowed {_where(scope)}",
            )
        key = token.text[len("annotation.") :]
        if not _ANNOTATION_KEY.fullmatch(key):
            raise FilterSyntaxError(
                f"{key!r} is not an annotation key",
                token.position + len("annotation."),
                "an annotation key of letters, digits and _",
            )
        return Annotation(key), "annotation"
    entry = KEYWORDS.get(word)
    if entry is None:
        raise FilterSyntaxError(f"unknown keyword {token.text!r}", token.position, "a keyword")
    if scope not in entry.scopes:
        raise FilterSyntaxError(
            f"{word} cannot be used {_where(scope)}",
            token.position,
            f"a keyword allowed {_where(scope)}",
        )
    return Field(word), entry.kind


def _expected_value(kind: str, op: str, value: Value) -> str | None:
    """What ``op`` on a ``kind`` subject needs, when ``value`` is not that; else None."""
    if kind == "annotation" and op in EQUALITY_OPS:
        return None
    if kind == "bool":
        return None if isinstance(value, bool) else "true or false"
    if kind == "number" or op in ORDER_OPS:
        return None if isinstance(value, float) else "a number"
    return None if isinstance(value, str) else "a quoted string"


def _show(op: str) -> str:
    return op.upper() if op.isalpha() else f'"{op}"'


def _choices(shown: list[str]) -> str:
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _operators(kind: str) -> str:
    return _choices([_show(op) for op in _OPS_BY_KIND[kind]])


def _describe(kind: str, token: Token) -> str:
    if kind == "annotation":
        return token.text
    return f"{token.word}, a {'boolean' if kind == 'bool' else kind} keyword"


def _where(scope: str) -> str:
    if scope == "trace":
        return "at the top level"
    if scope in ("service", "edge"):
        return f"inside {scope}() {{ }}"
    return f"inside {scope} {{ }}"
