"""Tokens of a filter expression, and the JSON list of ``rootcause.json``.

The parser pulls one token at a time (:func:`next_token`), so a lexical problem is reported
only once everything before it has been accepted: errors come out in reading order.
"""

import json
import math
import re

from fluoroscope.errors import FilterSyntaxError

_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<unterminated>")
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)
  | (?P<op>!=|<=|>=|=|<|>)
  | (?P<bang>!)
  | (?P<json>\#\[)
  | (?P<punct>[(){},:\]])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
  """,
    re.VERBOSE | re.DOTALL,
)
_SPACE = re.compile(r"\s*")
_LETTER = re.compile(r"[A-Za-z_]")
_WRITTEN = re.compile(r"-?[A-Za-z0-9_.]+")
_ESCAPE = re.compile(r'\\(["\\])')


class Token:
    """One token: its kind, its text as written, and where it starts."""

    __slots__ = ("kind", "position", "text", "word")

    def __init__(self, kind: str, text: str, position: int) -> None:
        self.kind = kind
        self.text = text
        self.position = position
        # Words compare case-insensitively; every other kind never equals a word.
        self.word = text.lower() if kind == "word" else ""

    @property
    def end(self) -> int:
        """The offset just past the token."""
        return self.position + len(self.text)

    def is_punct(self, text: str) -> bool:
        """Whether this is the punctuation ``text``."""
        return self.kind == "punct" and self.text == text


def next_token(text: str, position: int) -> Token:
    """The token starting at or after ``position``; an ``end`` token past the last one.

    A character no token starts with comes back as an ``invalid`` token, so that the parser
    refuses it saying what it expected there; an unterminated string is refused at once.
    """
    position = _skip_space(text, position)
    if position >= len(text):
        return Token("end", "", len(text))
    match = _TOKEN.match(text, position)
    if match is None:
        return Token("invalid", text[position], position)
    if match.lastgroup == "unterminated":
        raise FilterSyntaxError("the string opened here is never closed", position, "'\"'")
    if match.lastgroup == "number" and _LETTER.match(text, match.end()):
        # 0x1F4 or 5xx: digits run into letters. Said as a bad number, rather than as a
        # number followed by an unknown keyword.
        written = _WRITTEN.match(text, position)
        assert written is not None
        raise FilterSyntaxError(
            f"{written.group()!r} is not a number", position, "a decimal number such as 500 or 0.5"
        )
    return Token(match.lastgroup or "", match.group(), position)


def unquote(text: str) -> str:
    """The value of a quoted string token: only ``\\"`` and ``\\\\`` are escapes."""
    return _ESCAPE.sub(r"\1", text[1:-1])


def read_json_list(text: str, position: int, max_depth: int) -> tuple[list[object], int]:
    """Read ``value, value, ... ]`` from ``position``; return the values and the end offset."""
    values: list[object] = []
    while True:
        position = _skip_space(text, position)
        too_deep = _json_too_deep(text, position, max_depth)
        if too_deep is not None:
            raise FilterSyntaxError(
                f"the JSON nests more than {max_depth} deep",
                too_deep,
                f"at most {max_depth} nested JSON lists and objects",
            )
        try:
            value, end = _JSON.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise FilterSyntaxError(
                f"malformed JSON ({error.msg})", error.pos, "a JSON value"
            ) from None
        except ValueError as error:
            # NaN, Infinity, overflowing floats and integers past Python's digit limit.
            raise FilterSyntaxError(str(error), position, "a JSON value") from None
        values.append(value)
        position = _skip_space(text, end)
        if text.startswith(",", position):
            position += 1
        elif text.startswith("]", position):
            return values, position + 1
        else:
            found = "end of the expression" if position >= len(text) else repr(text[position])
            raise FilterSyntaxError(f"unexpected {found}", position, '"," or "]"')


def _json_too_deep(text: str, position: int, max_depth: int) -> int | None:
    """Where the JSON value at ``position`` first nests past ``max_depth``, if it does.

    The standard decoder recurses once per level, so this runs first to keep hostile input
    away from the interpreter's recursion limit.
    """
    depth = 0
    in_string = escaped = False
    for offset in range(position, len(text)):
        char = text[offset]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return offset
        elif char in "]}":
            depth -= 1
        if depth <= 0 and not in_string:
            return None
    return None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a double")
    return value


def _bounded_int(text: str) -> int:
    # Python refuses to convert past 4300 digits, and code matching fragments compares
    # numbers as floats, which overflow past 308.
    if len(text.lstrip("-")) > _MAX_JSON_DIGITS:
        raise ValueError(f"an integer of more than {_MAX_JSON_DIGITS} digits")
    return int(text)


_MAX_JSON_DIGITS = 300
_JSON = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int
)


def _skip_space(text: str, position: int) -> int:
    match = _SPACE.match(text, position)
    return match.end() if match else position
