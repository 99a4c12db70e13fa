"""Stack traces: ``exception.stacktrace`` text against X-Ray's ``stack`` frames.

OpenTelemetry SDKs record a stack trace as the text their language prints; X-Ray wants frames
(``path``, ``line``, ``label``), innermost first. As the Collector's exporter does (``cause.go``),
text is read by the conventions of ``telemetry.sdk.language``:

============================  ==================================================================
``python``                    tracebacks, ``  File "path", line N, in label``
``java``, and any language    ``\\tat label(path:line)``; a class loader or module prefix
not listed here               (``java.base/``) is left out of the label
``php``                       the SDK's Java-like text; else PHP's own ``#0 path(N): label()``
                              lines, each call paired with the place its function was at
``nodejs``, ``webjs``,        V8's ``    at label (path:line:column)`` and ``    at
``javascript``                path:line:column``
``dotnet``                    ``   at Label(args) in path:line N``; a frame without `` in `` has
                              a label only
``go``                        the first goroutine of a ``goroutine N [running]:`` dump: a
                              function line, then a tab-indented ``path:line +0x..`` line
============================  ==================================================================

A chained trace ("During handling of the above exception...", "Caused by: ...", .NET's inner
exceptions, PHP's "Next ...") yields one entry per exception, newest first, as X-Ray chains them
through ``cause``. A line that is not a frame of the format is skipped.

Going the other way, frames are written in the same conventions, so that reading them back gives
the same frames; :func:`render` returns None when it cannot promise that.
"""

import re
from dataclasses import dataclass, field
from typing import Any

_PY_FRAME = re.compile(r'^  File "(.*)", line (-?\d+), in (.*)$', re.MULTILINE)
_PY_CHAIN = re.compile(
    r"\n\n(?:During handling of the above exception, another exception occurred"
    r"|The above exception was the direct cause of the following exception):\n\n"
)
_PY_HEADER = "Traceback (most recent call last):"
_JAVA_FRAME = re.compile(r"^\tat ([^(]*)\((.*)\)$")
_JAVA_CAUSE = "Caused by: "
# "loader/module@version/Class.method": the prefixes end in '/'. A hidden class's own name has a
# '/' too ("App$$Lambda/0x0000000800c0b000.run"); that one is followed by "0x" and stays.
_JAVA_PREFIX = re.compile(r"^(?:[^/]*/(?!0x))+")
_AT = "at "  # how a JavaScript or .NET frame line starts, once stripped
_JS_LOCATION = re.compile(r"^(.*?):(\d+)(?::\d+)?$")
_DOTNET_WHERE = ") in "
_DOTNET_LINE = ":line "
_DOTNET_INNER = " ---> "
_DOTNET_INNER_END = "--- End of inner exception stack trace ---"
_GO_GOROUTINE = re.compile(r"^goroutine \d+ \[.*\]:$")
_GO_LOCATION = re.compile(r"^\t(.+):(\d+)(?: \+0x[0-9a-fA-F]+)?$")
_GO_CREATED = "created by "
_GO_CREATED_IN = " in goroutine "
_PHP_FRAME = re.compile(r"^#\d+ (?:(.*?)\((\d+)\)|(\[internal function\])): (.*)$")
_PHP_THROWN_AT = " in "
_PHP_NEXT = re.compile(r"\n+Next ")
_PHP_MAIN = "{main}"
_LINE = re.compile(r"-?\d+")
# The semantic conventions' names for Node.js and browsers, and the one older JS SDKs sent.
_JS_LANGUAGES = frozenset({"nodejs", "webjs", "javascript"})


@dataclass(slots=True)
class Traced:
    """One exception read from a stack trace: its frames (innermost first), type and message."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    exception_type: str | None = None
    message: str | None = None


def parse(text: str, language: str) -> list[Traced]:
    """The exceptions a stack trace shows, newest first."""
    language = language.lower()
    if language == "python":
        return _parse_python(text)
    if language in _JS_LANGUAGES:
        return _parse_javascript(text)
    if language == "dotnet":
        return _parse_dotnet(text)
    if language == "go":
        return _parse_go(text)
    if language == "php":
        return _parse_php(text)
    return _parse_java(text)


def render(
    frames: list[dict[str, Any]], exception_type: str | None, message: str | None, language: str
) -> str | None:
    """Stack trace text that :func:`parse` reads back as exactly ``frames``, or None."""
    if not frames or not all(_is_frame(frame) for frame in frames):
        return None
    headline = _headline(exception_type, message)
    lowered = language.lower()
    if lowered == "python":
        lines = [_PY_HEADER, *map(_python_line, frames[::-1]), headline]
    elif lowered in _JS_LANGUAGES:
        lines = [headline, *map(_javascript_line, frames)]
    elif lowered == "dotnet":
        lines = [headline, *map(_dotnet_line, frames)]
    elif lowered == "go":
        lines = [headline]
        for frame in frames:
            lines.extend((f"{frame['label']}(...)", f"\t{frame['path']}:{frame['line']}"))
    else:
        lines = [headline]
        lines.extend(f"\tat {frame['label']}({frame['path']}:{frame['line']})" for frame in frames)
    text = "\n".join(lines)
    read = parse(text, language)
    # A label or path that looks like the format's own punctuation would read back differently.
    return text if len(read) == 1 and read[0].frames == frames else None


def _parse_python(text: str) -> list[Traced]:
    traced = []
    for block in reversed(_PY_CHAIN.split(text)):
        frames = [
            {"path": match[1], "line": _line(match[2]), "label": match[3]}
            for match in _PY_FRAME.finditer(block)
        ]
        frames.reverse()  # Python prints the innermost frame last
        exception_type, message = _split_headline(_python_headline(block))
        traced.append(Traced(frames, exception_type, message))
    return traced


def _python_headline(block: str) -> str:
    """The ``Type: message`` part of one traceback: what follows the indented frame lines."""
    lines = block.split("\n")
    for index, line in enumerate(lines):
        if line and not line[0].isspace() and line != _PY_HEADER:
            return "\n".join(lines[index:]).rstrip("\n")
    return ""


def _python_line(frame: dict[str, Any]) -> str:
    return f'  File "{frame["path"]}", line {frame["line"]}, in {frame["label"]}'


def _parse_java(text: str) -> list[Traced]:
    lines = text.split("\n")
    exception_type, message = _split_headline(lines[0] if lines else "")
    current = Traced([], exception_type, message)
    traced = [current]
    for line in lines[1:]:
        match = _JAVA_FRAME.match(line)
        if match is not None:
            label = _JAVA_PREFIX.sub("", match[1], count=1)
            path, colon, number = match[2].rpartition(":")
            if colon and _LINE.fullmatch(number):
                current.frames.append({"path": path, "line": _line(number), "label": label})
            else:
                # "(Native Method)", "(Unknown Source)": no line to speak of.
                current.frames.append({"path": match[2], "line": 0, "label": label})
        elif line.startswith(_JAVA_CAUSE):
            exception_type, message = _split_headline(line[len(_JAVA_CAUSE) :])
            current = Traced([], exception_type, message)
            traced.append(current)
    return traced


def _parse_javascript(text: str) -> list[Traced]:
    lines = text.split("\n")
    traced = Traced([], *_split_headline(lines[0].rstrip("\r")))
    for line in lines[1:]:
        body = line.strip()
        if not body.startswith(_AT):
            continue
        body = body[len(_AT) :]
        label, paren, location = body.partition(" (")
        if paren and location.endswith(")"):
            frame = _javascript_frame(label, location[:-1])
        else:
            frame = _javascript_frame("", body)  # an anonymous function: "at path:line:column"
        if frame is not None:
            traced.frames.append(frame)
    return [traced]


def _javascript_frame(label: str, location: str) -> dict[str, Any] | None:
    match = _JS_LOCATION.match(location)
    if match is not None:
        return {"path": match[1], "line": _line(match[2]), "label": label}
    if label:
        # "(<anonymous>)", "(native)", "(index 0)": a place with no line.
        return {"path": location, "line": 0, "label": label}
    # Neither a label nor a line: text that only starts like a frame ("at least once").
    return None


def _javascript_line(frame: dict[str, Any]) -> str:
    # V8 also prints a column; X-Ray keeps none, and the reader takes a location without one.
    location = f"{frame['path']}:{frame['line']}"
    if not frame["label"]:
        return f"    at {location}"
    return f"    at {frame['label']} ({location})"


def _parse_dotnet(text: str) -> list[Traced]:
    lines = text.split("\n")
    headline = lines[0].rstrip("\r")
    # Exception.ToString(): "Outer: m ---> Inner: m", then the innermost exception's frames, and
    # each enclosing exception's after an "End of inner exception" line.
    blocks: list[list[dict[str, Any]]] = [[]]
    for line in lines[1:]:
        body = line.strip()
        if body.startswith(_AT):
            frame = _dotnet_frame(body[len(_AT) :])
            if frame is not None:
                blocks[-1].append(frame)
        elif body == _DOTNET_INNER_END:
            blocks.append([])
    headlines = headline.split(_DOTNET_INNER)
    if len(headlines) != len(blocks):
        # A message that itself says " ---> ": the frames are kept, as one exception's.
        headlines = [headline]
        blocks = [[frame for block in blocks for frame in block]]
    return [
        Traced(frames, *_split_headline(exception))
        for exception, frames in zip(headlines, reversed(blocks), strict=True)
    ]


def _dotnet_frame(body: str) -> dict[str, Any] | None:
    label, where, place = body.partition(_DOTNET_WHERE)
    if not where:
        # No source file (no PDB, or framework code): a method, its parameters in parentheses.
        return {"path": "", "line": 0, "label": body} if body.endswith(")") else None
    label += ")"
    path, marker, number = place.rpartition(_DOTNET_LINE)
    if marker and _LINE.fullmatch(number):
        return {"path": path, "line": _line(number), "label": label}
    return {"path": place, "line": 0, "label": label}


def _dotnet_line(frame: dict[str, Any]) -> str:
    if not frame["path"] and not frame["line"]:
        return f"   at {frame['label']}"
    return f"   at {frame['label']} in {frame['path']}{_DOTNET_LINE}{frame['line']}"


def _parse_go(text: str) -> list[Traced]:
    lines = text.split("\n")
    first = lines[0].rstrip("\r")
    traced = Traced([], *_split_headline("" if _GO_GOROUTINE.match(first) else first))
    goroutines = 0
    label: str | None = None
    for raw in lines:
        line = raw.rstrip("\r")
        if _GO_GOROUTINE.match(line):
            goroutines += 1
            if goroutines > 1:
                break  # a dump of every goroutine: the first is the one that failed
            label = None
        elif line.startswith("\t"):
            match = _GO_LOCATION.match(line)
            if match is not None and label is not None:
                traced.frames.append({"path": match[1], "line": _line(match[2]), "label": label})
            label = None
        else:
            label = _go_function(line) if line else None
    return [traced]


def _go_function(line: str) -> str:
    """``main.(*T).run`` from ``main.(*T).run(0xc000010000, ...)`` or ``created by ...``."""
    if line.startswith(_GO_CREATED):
        return line[len(_GO_CREATED) :].partition(_GO_CREATED_IN)[0]
    arguments = line.rfind("(")
    if line.endswith(")") and arguments > 0:
        return line[:arguments]
    return line


def _parse_php(text: str) -> list[Traced]:
    traced = _parse_java(text)  # what the OpenTelemetry PHP SDK writes
    if any(exception.frames for exception in traced):
        return traced
    # Throwable::__toString(): the earliest exception first, each later one after "Next ".
    return [_parse_php_native(block) for block in reversed(_PHP_NEXT.split(text))]


def _parse_php_native(block: str) -> Traced:
    """One exception of PHP's own text: a headline ending ``in path:line``, then ``#N`` calls.

    Line ``#N`` says where a function was called from; X-Ray wants each frame's function with
    the place it had reached, so each call's place belongs to the caller, one line down.
    """
    lines = block.split("\n")
    headline = lines[0].rstrip("\r")
    place: tuple[str, int] = ("", 0)
    message, thrown, at = headline.rpartition(_PHP_THROWN_AT)
    path, colon, number = at.rpartition(":")
    if thrown and colon and number.isdecimal():
        headline, place = message, (path, _line(number))
    frames: list[dict[str, Any]] = []
    for line in lines[1:]:
        match = _PHP_FRAME.match(line.rstrip("\r"))
        if match is None:
            continue
        called = match[4].partition("(")[0]
        frames.append({"path": place[0], "line": place[1], "label": called})
        place = (match[3], 0) if match[3] else (match[1], _line(match[2]))
    if frames:
        frames.append({"path": place[0], "line": place[1], "label": _PHP_MAIN})
    return Traced(frames, *_split_headline(headline))


def _headline(exception_type: str | None, message: str | None) -> str:
    if exception_type and message is not None:
        return f"{exception_type}: {message}"
    return exception_type or message or ""


def _split_headline(line: str) -> tuple[str | None, str | None]:
    exception_type, colon, message = line.partition(": ")
    if not colon:
        return (line or None), None
    return exception_type, message


def _is_frame(frame: Any) -> bool:
    return (
        isinstance(frame, dict)
        and frame.keys() == {"path", "line", "label"}
        and isinstance(frame["path"], str)
        and isinstance(frame["label"], str)
        and isinstance(frame["line"], int)
        and not isinstance(frame["line"], bool)
    )


def _line(digits: str) -> int:
    """A frame's line number; one too long to be a line (past nine digits) is unknown, 0,
    rather than a number no document or int64 can hold."""
    return int(digits) if len(digits) <= 9 else 0
