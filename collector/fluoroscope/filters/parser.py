"""Parsing X-Ray filter expressions into :mod:`fluoroscope.filters.ast` trees.

A hand-written recursive-descent parser: the grammar is small (xray-protocol.md 8.5), and
writing it out gives every error an exact position and a precise "expected ..." without a
dependency. Choices where X-Ray's documentation is silent:

- Keywords, ``AND``/``OR``/``NOT`` and the string operators are case-insensitive; ``NOT`` is a
  synonym of ``!``. Precedence is ``!`` over ``AND`` over ``OR``; juxtaposition is ``AND``.
- Strings are double-quoted; ``\\"`` and ``\\\\`` are the only escapes (any other backslash is
  kept as it is). A bare word after an operator is read as a string (``name = traces``).
- Numbers are decimal (``-1``, ``0.5``, ``1e3``) and compare as floats.
- Expressions are at most :data:`MAX_LENGTH` characters and nest at most :data:`MAX_DEPTH`
  deep, so hostile input costs bounded work.
"""

import json
import re
from typing import Literal, NoReturn, cast

from fluoroscope.errors import FilterSyntaxError
from fluoroscope.filters.ast import (
    KEYWORDS,
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

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<unterminated>"(?:[^"\\]|\\.)*\\?$)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<op>!=|<=|>=|=|<|>)
  | (?P<bang>!)
  | (?P<json>\#\[)
  | (?P<punct>[(){},:\]])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
  """,
    re.VERBOSE,
)
_STRING_OPS = ("contains", "beginswith", "endswith")
_ORDER_OPS = ("<", "<=", ">", ">=")
_ROOT_CAUSE = re.compile(r"rootcause\.(fault|error|responsetime)\.(service|entity|exception)")


class _Token:
    __slots__ = ("kind", "position", "text", "value")

    def __init__(self, kind: str, text: str, position: int, value: object = None) -> None:
        self.kind = kind
        self.text = text
        self.position = position
        # A JSON value's parsed form.
        self.value = value

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


def parse(text: str) -> Node:
    """Parse ``text``; raise FilterSyntaxError with a position and what was expected."""
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(
            f"the expression is longer than {MAX_LENGTH} characters", MAX_LENGTH, "a shorter one"
        )
    return _Parser(text).parse()


def _tokens(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FilterSyntaxError(
                f"unexpected {text[position]!r}", position, "a keyword, value or operator"
            )
        kind = match.lastgroup or ""
        if kind == "unterminated":
            raise FilterSyntaxError("unterminated string", position, 'a closing "')
        if kind == "json":
            tokens.append(_Token(kind, match.group(), position))
            position = match.end()
            position = _skip_json(text, position, tokens)
            continue
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


_decoder = json.JSONDecoder()


def _skip_json(text: str, position: int, tokens: list[_Token]) -> int:
    """Read ``value, value, ... ]`` after ``#[`` as JSON tokens."""
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        try:
            value, end = _decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            raise FilterSyntaxError("malformed JSON", position, "a JSON value") from None
        tokens.append(_Token("jsonvalue", text[position:end], position, value))
        position = end
        while position < len(text) and text[position].isspace():
            position += 1
        if position < len(text) and text[position] == ",":
            position += 1
            continue
        if position < len(text) and text[position] == "]":
            tokens.append(_Token("punct", "]", position))
            return position + 1
        raise FilterSyntaxError("unterminated JSON list", position, '"," or "]"')


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0
        self.depth = 0

    # -- helpers ---------------------------------------------------------------------------

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def fail(self, expected: str, token: _Token | None = None) -> NoReturn:
        token = token or self.current
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        raise FilterSyntaxError(f"unexpected {found}", token.position, expected)

    def expect(self, text: str) -> _Token:
        if self.current.text != text:
            self.fail(f'"{text}"')
        return self.advance()

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(
                f"the expression nests more than {MAX_DEPTH} deep", self.current.position,
                "a flatter expression",
            )  # fmt: skip

    # -- grammar ---------------------------------------------------------------------------

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
            elif token.kind == "end" or token.word == "or" or token.text in (")", "}"):
                return node
            node = And(node, self.unary(scope))

    def unary(self, scope: str) -> Node:
        token = self.current
        if token.kind == "bang" or token.word == "not":
            self.advance()
            self.nest()
            node = Not(self.unary(scope))
            self.depth -= 1
            return node
        return self.primary(scope)

    def primary(self, scope: str) -> Node:
        token = self.current
        if token.text == "(":
            self.advance()
            self.nest()
            node = self.or_expr(scope)
            self.depth -= 1
            self.expect(")")
            return node
        if token.kind != "word":
            self.fail('a keyword, annotation.KEY, service(...), edge(...) or "("')
        word = token.word
        if word == "service":
            return self.service(scope, token)
        if word == "edge":
            return self.edge(scope, token)
        if word in ("group.name", "group.arn"):
            return self.group(scope, token)
        if word == "rootcause.json":
            return self.rootcause_json(scope, token)
        if word.startswith("rootcause."):
            return self.rootcause(scope, token)
        return self.comparison(scope)

    def _top_level_only(self, scope: str, token: _Token) -> None:
        if scope != "trace":
            raise FilterSyntaxError(
                f"{token.text} is not allowed inside a block", token.position,
                "a keyword that applies inside this block",
            )  # fmt: skip

    def service(self, scope: str, token: _Token) -> Node:
        self._top_level_only(scope, token)
        self.advance()
        self.expect("(")
        node = None if self.current.text == ")" else self.node_ref()
        self.expect(")")
        return Service(node, self.block("service"))

    def edge(self, scope: str, token: _Token) -> Node:
        self._top_level_only(scope, token)
        self.advance()
        self.expect("(")
        source = self.node_ref()
        self.expect(",")
        target = self.node_ref()
        self.expect(")")
        return Edge(source, target, self.block("edge"))

    def block(self, scope: str, required: bool = False) -> Node | None:
        if self.current.text != "{":
            if required:
                self.fail('"{"')
            return None
        self.advance()
        self.nest()
        node = self.or_expr(scope)
        self.depth -= 1
        self.expect("}")
        return node

    def node_ref(self) -> NodeRef:
        token = self.current
        if token.kind == "string":
            self.advance()
            return NodeRef(name=_unquote(token.text))
        if token.word != "id":
            self.fail("a quoted service name or id(...)")
        self.advance()
        self.expect("(")
        found: dict[str, str] = {}
        while True:
            key = self.current
            if key.word not in ("name", "type", "account.id") or key.word in found:
                self.fail('"name", "type" or "account.id" (each at most once)')
            self.advance()
            self.expect(":")
            value = self.current
            if value.kind != "string":
                self.fail("a quoted string")
            self.advance()
            found[key.word] = _unquote(value.text)
            if self.current.text == ",":
                self.advance()
                continue
            break
        self.expect(")")
        return NodeRef(found.get("name"), found.get("type"), found.get("account.id"))

    def group(self, scope: str, token: _Token) -> Node:
        self._top_level_only(scope, token)
        self.advance()
        op = self.current
        if op.text not in ("=", "!="):
            self.fail('"=" or "!="')
        self.advance()
        value = self.current
        if value.kind != "string":
            self.fail("a quoted group name or ARN")
        self.advance()
        attribute = cast(Literal["name", "arn"], token.word.split(".")[1])
        return Group(attribute, cast(Literal["=", "!="], op.text), _unquote(value.text))

    def rootcause(self, scope: str, token: _Token) -> Node:
        self._top_level_only(scope, token)
        match = _ROOT_CAUSE.fullmatch(token.word)
        if match is None or match.groups() == ("responsetime", "exception"):
            self.fail(
                "rootcause.fault|error.service|entity|exception or "
                "rootcause.responsetime.service|entity"
            )
        self.advance()
        kind, level = match.groups()
        block = self.block(f"rc.{level}", required=True)
        assert block is not None
        return RootCause(
            cast(Literal["fault", "error", "responsetime"], kind),
            cast(Literal["service", "entity", "exception"], level),
            block,
        )

    def rootcause_json(self, scope: str, token: _Token) -> Node:
        self._top_level_only(scope, token)
        self.advance()
        self.expect("=")
        if self.current.kind != "json":
            self.fail('"#["')
        self.advance()
        values = []
        texts = []
        while self.current.kind == "jsonvalue":
            values.append(self.current.value)
            texts.append(self.current.text)
            self.advance()
        self.expect("]")
        return RootCauseJson(tuple(values), tuple(texts))

    def comparison(self, scope: str) -> Node:
        token = self.advance()
        word = token.word
        subject: Field | Annotation
        if word.startswith("annotation."):
            if scope != "trace":
                raise FilterSyntaxError(
                    "annotations cannot be used inside a block", token.position,
                    "a keyword that applies inside this block",
                )  # fmt: skip
            key = token.text[len("annotation.") :]
            if not re.fullmatch(r"[A-Za-z0-9_]+", key):
                raise FilterSyntaxError(
                    f"{token.text!r} is not a valid annotation key", token.position,
                    "annotation. followed by letters, digits or _",
                )  # fmt: skip
            subject = Annotation(key)
            kind = "annotation"
        else:
            entry = KEYWORDS.get(word)
            if entry is None:
                raise FilterSyntaxError(
                    f"unknown keyword {token.text!r}", token.position, "a keyword"
                )
            kind, scopes = entry
            if scope not in scopes:
                raise FilterSyntaxError(
                    f"{word} cannot be used {_where(scope)}", token.position,
                    "a keyword that applies here",
                )  # fmt: skip
            subject = Field(word)
        op_token = self.current
        op = op_token.text if op_token.kind == "op" else op_token.word
        if op not in ("=", "!=", *_ORDER_OPS, *_STRING_OPS):
            if kind == "number":
                self.fail(f"an operator after {word}")
            return Present(subject)
        self.advance()
        value = self.value(op_token, op, kind)
        return Compare(subject, op, value)

    def value(self, op_token: _Token, op: str, kind: str) -> Value:
        token = self.current
        if token.kind == "end" or token.text in (")", "}", ","):
            self.fail(f'a value after "{op_token.text}"')
        self.advance()
        value: Value
        if token.kind == "string":
            value = _unquote(token.text)
        elif token.kind == "number":
            value = float(token.text)
        elif token.word in ("true", "false"):
            value = token.word == "true"
        elif token.kind == "word":
            value = token.text
        else:
            self.fail(f'a value after "{op_token.text}"', token)
        _check_types(kind, op, value, token)
        return value


def _check_types(kind: str, op: str, value: Value, token: _Token) -> None:
    if kind == "bool":
        if op not in ("=", "!=") or not isinstance(value, bool):
            raise FilterSyntaxError(
                "a boolean keyword compares only with = or != to true or false",
                token.position, "true or false",
            )  # fmt: skip
    elif kind == "number":
        if op in _STRING_OPS or isinstance(value, bool | str):
            raise FilterSyntaxError(
                "a numeric keyword compares with = != < <= > >= to a number",
                token.position, "a number",
            )  # fmt: skip
    elif kind == "string":
        if op in _ORDER_OPS or not isinstance(value, str):
            raise FilterSyntaxError(
                "a string keyword compares with = != CONTAINS BEGINSWITH ENDSWITH to a string",
                token.position, "a quoted string",
            )  # fmt: skip
    else:  # annotations take strings, numbers or booleans
        if isinstance(value, bool) and op not in ("=", "!="):
            raise FilterSyntaxError(
                "a boolean compares only with = or !=", token.position, "a string or number"
            )
        if op in _STRING_OPS and not isinstance(value, str):
            raise FilterSyntaxError(
                f"{op.upper()} needs a string", token.position, "a quoted string"
            )
        if op in _ORDER_OPS and not isinstance(value, float):
            raise FilterSyntaxError(f'"{op}" needs a number', token.position, "a number")


def _where(scope: str) -> str:
    return {
        "trace": "at the top level",
        "service": "inside service() { }",
        "edge": "inside edge() { }",
    }.get(scope, "inside this root-cause block")


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r'\\(["\\])', r"\1", body)
