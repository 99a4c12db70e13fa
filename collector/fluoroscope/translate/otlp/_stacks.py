"""Stack traces: ``exception.stacktrace`` text against X-Ray's ``stack`` frames.

OpenTelemetry SDKs record a stack trace as the text their language prints; X-Ray wants frames
(``path``, ``line``, ``label``), innermost first. As the Collector's exporter does (``cause.go``),
text is read by the conventions of ``telemetry.sdk.language``: Python tracebacks for ``python``,
Java's ``\\tat label(path:line)`` lines for anything else (the exporter also reads JavaScript,
.NET and Go stacks; frames in those formats are left as text). A chained traceback ("During
handling of the above exception...", "Caused by: ...") yields one entry per exception, newest
first, as X-Ray chains them through ``cause``.

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
_LINE = re.compile(r"-?\d+")


@dataclass(slots=True)
class Traced:
    """One exception read from a stack trace: its frames (innermost first), type and message."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    exception_type: str | None = None
    message: str | None = None


def parse(text: str, language: str) -> list[Traced]:
    """The exceptions a stack trace shows, newest first."""
    if language.lower() == "python":
        return _parse_python(text)
    return _parse_java(text)


def render(
    frames: list[dict[str, Any]], exception_type: str | None, message: str | None, language: str
) -> str | None:
    """Stack trace text that :func:`parse` reads back as exactly ``frames``, or None."""
    if not frames or not all(_is_frame(frame) for frame in frames):
        return None
    headline = _headline(exception_type, message)
    if language.lower() == "python":
        lines = [_PY_HEADER]
        lines.extend(
            f'  File "{frame["path"]}", line {frame["line"]}, in {frame["label"]}'
            for frame in frames[::-1]
        )
        lines.append(headline)
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
            {"path": match[1], "line": int(match[2]), "label": match[3]}
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


def _parse_java(text: str) -> list[Traced]:
    lines = text.split("\n")
    exception_type, message = _split_headline(lines[0] if lines else "")
    current = Traced([], exception_type, message)
    traced = [current]
    for line in lines[1:]:
        match = _JAVA_FRAME.match(line)
        if match is not None:
            path, colon, number = match[2].rpartition(":")
            if colon and _LINE.fullmatch(number):
                current.frames.append({"path": path, "line": int(number), "label": match[1]})
            else:
                # "(Native Method)", "(Unknown Source)": no line to speak of.
                current.frames.append({"path": match[2], "line": 0, "label": match[1]})
        elif line.startswith(_JAVA_CAUSE):
            exception_type, message = _split_headline(line[len(_JAVA_CAUSE) :])
            current = Traced([], exception_type, message)
            traced.append(current)
    return traced


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
